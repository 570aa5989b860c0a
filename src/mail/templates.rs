//! The mails Entitle sends, in plain text and HTML, with links built from
//! `ENTITLE_APP_URL`.

use super::Mail;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(title: &str, lead: &str, action: &str, link: &str, after: &str) -> String {
    format!(
        "<!doctype html>\n<html><body style=\"font-family: sans-serif\">\n\
         <h1>{title}</h1>\n<p>{lead}</p>\n\
         <p><a href=\"{href}\">{action}</a></p>\n\
         <p>Or paste this address into your browser:<br>{href}</p>\n<p>{after}</p>\n\
         </body></html>\n",
        title = escape(title),
        lead = escape(lead),
        action = escape(action),
        href = escape(link),
        after = escape(after),
    )
}

/// A link to `path` on the app, carrying the token.
pub fn link(app_url: &str, path: &str, token: &str) -> String {
    format!("{}{path}?token={token}", app_url.trim_end_matches('/'))
}

pub fn password_reset(to: &str, link: &str) -> Mail {
    let lead = "Someone (we hope you) asked to reset the password of your account.";
    let after = "The link works once, for 30 minutes. If you did not ask, ignore this mail: \
                 your password stays as it is.";
    Mail {
        to: to.to_owned(),
        subject: "Reset your password".into(),
        text: format!("{lead}\n\nSet a new password here:\n{link}\n\n{after}\n"),
        html: html(
            "Reset your password",
            lead,
            "Set a new password",
            link,
            after,
        ),
    }
}

pub fn email_verification(to: &str, link: &str) -> Mail {
    let lead = "Please confirm that this address is yours.";
    let after = "The link works once, for 48 hours. If you did not create an account, ignore \
                 this mail.";
    Mail {
        to: to.to_owned(),
        subject: "Confirm your email address".into(),
        text: format!("{lead}\n\nConfirm it here:\n{link}\n\n{after}\n"),
        html: html(
            "Confirm your email address",
            lead,
            "Confirm my address",
            link,
            after,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mails_carry_the_link_in_both_parts_and_are_ascii() {
        let link = link("https://app.example.com/", "/reset-password", "tok_en-1");
        assert_eq!(
            link,
            "https://app.example.com/reset-password?token=tok_en-1"
        );
        for mail in [
            password_reset("a@example.com", &link),
            email_verification("a@example.com", &link),
        ] {
            assert!(
                mail.text.contains(&link) && mail.html.contains(&link),
                "{mail:?}"
            );
            assert!(mail.text.is_ascii() && mail.html.is_ascii() && mail.subject.is_ascii());
        }
        assert_eq!(
            escape("<a href=\"x\">&"),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
