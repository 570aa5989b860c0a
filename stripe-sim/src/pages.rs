//! The hosted pages a checkout or portal session's `url` points at: plain HTML forms whose
//! buttons change the state exactly as the matching API calls do (and emit the same events).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::state::params::str_param;
use crate::state::{Cause, PortalSession, Status, Subscription};
use crate::{App, form};

pub fn router(app: App) -> Router {
    Router::new()
        .route("/checkout/{id}", get(checkout_page))
        .route("/checkout/{id}/pay", post(checkout_pay))
        .route("/checkout/{id}/decline", post(checkout_decline))
        .route("/checkout/{id}/cancel", get(checkout_cancel))
        .route("/invoice/{id}", get(invoice_page))
        .route("/invoice/{id}/pay", post(invoice_pay))
        .route("/portal/{id}", get(portal_page))
        .route("/portal/{id}/action", post(portal_action))
        .with_state(app)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · stripe-sim</title><style>body{{font-family:system-ui,sans-serif;\
         max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1a1f36}}\
         .note{{color:#697386;font-size:.9rem}}.error{{color:#c0123c}}\
         button{{padding:.5rem 1rem;margin:.25rem .25rem .25rem 0;cursor:pointer}}\
         table{{border-collapse:collapse}}td{{padding:.25rem .75rem .25rem 0}}</style></head>\
         <body><p class=\"note\">stripe-sim — test mode, no real money moves</p><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    ))
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        page("Not found", &format!("<p>No such {}.</p>", esc(what))),
    )
        .into_response()
}

fn money(amount: i64, currency: &str) -> String {
    format!(
        "{}.{:02} {}",
        amount / 100,
        amount % 100,
        currency.to_uppercase()
    )
}

async fn checkout_page(State(app): State<App>, Path(id): Path<String>) -> Response {
    app.with(|st| {
        let Ok(s) = st.session(&id) else {
            return not_found("checkout session");
        };
        if s.status != "open" {
            return page(
                "Checkout",
                &format!("<p>This checkout session is {}.</p>", esc(s.status)),
            )
            .into_response();
        }
        let mut rows = String::new();
        for li in &s.line_items {
            if let Some((product, price)) = st.catalog.price(&li.price) {
                rows.push_str(&format!(
                    "<tr><td>{}</td><td>{} × {} / {}</td></tr>",
                    esc(&product.name),
                    li.quantity,
                    money(price.unit_amount, &st.catalog.currency),
                    price.interval.as_str()
                ));
            }
        }
        let trial = s
            .trial_period_days
            .map(|d| format!("<p>{d}-day free trial; nothing is charged today.</p>"))
            .unwrap_or_default();
        let error = s
            .last_payment_error
            .as_deref()
            .map(|e| format!("<p class=\"error\">{}</p>", esc(e)))
            .unwrap_or_default();
        let cancel = if s.cancel_url.is_some() {
            format!(
                "<p><a href=\"/checkout/{}/cancel\">← Back</a></p>",
                esc(&s.id)
            )
        } else {
            String::new()
        };
        page(
            "Checkout",
            &format!(
                "<table>{rows}</table>{trial}{error}\
                 <form method=\"post\" action=\"/checkout/{id}/pay\" style=\"display:inline\">\
                 <button type=\"submit\">Pay</button></form>\
                 <form method=\"post\" action=\"/checkout/{id}/decline\" style=\"display:inline\">\
                 <button type=\"submit\">Decline (card fails)</button></form>{cancel}",
                id = esc(&s.id)
            ),
        )
        .into_response()
    })
}

async fn checkout_pay(State(app): State<App>, Path(id): Path<String>) -> Response {
    let cause = Cause::request(None);
    let result = app.with(|st| {
        st.complete_checkout(&id, &cause)
            .map(|_| st.session(&id).ok().and_then(|s| s.success_url.clone()))
    });
    match result {
        Ok(Some(url)) => Redirect::to(&url.replace("{CHECKOUT_SESSION_ID}", &id)).into_response(),
        Ok(None) => page(
            "Checkout",
            "<p>Payment succeeded. You can close this page.</p>",
        )
        .into_response(),
        // A declined card shows the page again with the error.
        Err(_) => Redirect::to(&format!("/checkout/{id}")).into_response(),
    }
}

async fn checkout_decline(State(app): State<App>, Path(id): Path<String>) -> Response {
    match app.with(|st| st.decline_checkout(&id)) {
        Ok(_) => Redirect::to(&format!("/checkout/{id}")).into_response(),
        Err(_) => not_found("open checkout session"),
    }
}

async fn checkout_cancel(State(app): State<App>, Path(id): Path<String>) -> Response {
    match app.with(|st| st.session(&id).ok().and_then(|s| s.cancel_url.clone())) {
        Some(url) => Redirect::to(&url).into_response(),
        None => not_found("checkout session"),
    }
}

/// The invoice's `hosted_invoice_url`: where a customer pays an open invoice (after a decline,
/// or to authenticate a payment that required action).
async fn invoice_page(State(app): State<App>, Path(id): Path<String>) -> Response {
    app.with(|st| {
        let Ok(inv) = st.invoice(&id) else {
            return not_found("invoice");
        };
        let pay = if inv.status == "open" {
            format!(
                "<form method=\"post\" action=\"/invoice/{}/pay\">\
                 <button type=\"submit\">Pay (authenticate)</button></form>",
                esc(&inv.id)
            )
        } else {
            String::new()
        };
        page(
            "Invoice",
            &format!(
                "<p>Amount due: {}. Status: <b>{}</b>. Attempts: {}.</p>{pay}",
                money(inv.amount, &st.catalog.currency),
                esc(inv.status),
                inv.attempt_count
            ),
        )
        .into_response()
    })
}

async fn invoice_pay(State(app): State<App>, Path(id): Path<String>) -> Response {
    let cause = Cause::request(None);
    // A decline shows the page again with the invoice still open.
    let _ = app.with(|st| st.pay_invoice(&id, &cause));
    Redirect::to(&format!("/invoice/{id}")).into_response()
}

async fn portal_page(State(app): State<App>, Path(id): Path<String>) -> Response {
    app.with(|st| {
        let Some(ps) = st.portal_sessions.get(&id) else {
            return not_found("portal session");
        };
        let mut subs: Vec<_> = st
            .subscriptions
            .values()
            .filter(|s| s.customer == ps.customer && !s.status.is_terminal())
            .collect();
        subs.sort_by_key(|s| s.seq);
        let mut html = String::new();
        if subs.is_empty() {
            html.push_str("<p>No current subscriptions.</p>");
        }
        for s in subs {
            html.push_str(&portal_subscription(st, ps, s));
        }
        if let Some(url) = &ps.return_url {
            html.push_str(&format!("<p><a href=\"{}\">← Return</a></p>", esc(url)));
        }
        page("Billing", &html).into_response()
    })
}

/// One subscription on the portal page, with a button for each thing the customer may do.
fn portal_subscription(st: &crate::State, ps: &PortalSession, s: &Subscription) -> String {
    let names: Vec<String> = s
        .items
        .iter()
        .filter_map(|i| st.catalog.price(&i.price))
        .map(|(p, pr)| format!("{} ({})", p.name, pr.nickname.as_deref().unwrap_or(&pr.id)))
        .collect();
    let ends = chrono::DateTime::from_timestamp(s.period_end, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let form = |action: &str, label: &str, extra: &str| {
        format!(
            "<form method=\"post\" action=\"/portal/{pid}/action\" style=\"display:inline\">\
             <input type=\"hidden\" name=\"subscription\" value=\"{sid}\">\
             <input type=\"hidden\" name=\"action\" value=\"{action}\">{extra}\
             <button type=\"submit\">{label}</button></form>",
            pid = esc(&ps.id),
            sid = esc(&s.id)
        )
    };
    let mut html = format!(
        "<h2>{}</h2><p>Status: <b>{}</b>{}. Current period ends {ends}.</p>",
        esc(&names.join(", ")),
        s.status.as_str(),
        if s.cancel_at_period_end {
            ", cancels at period end"
        } else {
            ""
        }
    );
    if s.status == Status::Paused {
        html.push_str(&form("resume", "Resume", ""));
    } else if s.cancel_at_period_end {
        html.push_str(&form("renew", "Don't cancel", ""));
    } else {
        html.push_str(&form("cancel_at_period_end", "Cancel at period end", ""));
    }
    html.push_str(&form("cancel_now", "Cancel now", ""));
    let current = s.items.first().map(|i| i.price.as_str()).unwrap_or("");
    for (product, price) in st.catalog.prices().filter(|(_, p)| p.id != current) {
        let extra = format!(
            "<input type=\"hidden\" name=\"price\" value=\"{}\">",
            esc(&price.id)
        );
        let label = format!(
            "Switch to {} {}",
            product.name,
            price.nickname.as_deref().unwrap_or(price.interval.as_str())
        );
        html.push_str(&form("switch", &esc(&label), &extra));
    }
    html
}

/// `subscription`, `action` = `cancel_at_period_end` | `renew` | `resume` | `cancel_now` |
/// `switch` (with `price`).
async fn portal_action(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> Response {
    let p = match form::parse(std::str::from_utf8(&body).unwrap_or_default()) {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, e.message).into_response(),
    };
    let (Some(sub), Some(action)) = (str_param(&p, "subscription"), str_param(&p, "action")) else {
        return (
            StatusCode::BAD_REQUEST,
            "subscription and action are required",
        )
            .into_response();
    };
    let cause = Cause::request(None);
    let result = app.with(|st| {
        let Some(ps) = st.portal_sessions.get(&id) else {
            return Err("no such portal session".to_string());
        };
        match st.subscriptions.get(&sub) {
            Some(s) if s.customer == ps.customer => {}
            _ => return Err("no such subscription for this customer".to_string()),
        }
        let r = match action.as_str() {
            "cancel_at_period_end" => {
                st.update_subscription(&sub, &json!({"cancel_at_period_end": "true"}), &cause)
            }
            "renew" => {
                st.update_subscription(&sub, &json!({"cancel_at_period_end": "false"}), &cause)
            }
            "resume" => st.resume_subscription(&sub, &cause),
            "cancel_now" => st.cancel_subscription(&sub, &cause),
            "switch" => {
                let price = str_param(&p, "price").unwrap_or_default();
                let item = st.subscriptions[&sub].items.first().map(|i| i.id.clone());
                st.update_subscription(
                    &sub,
                    &json!({"items": [{"id": item, "price": price}]}),
                    &cause,
                )
            }
            other => return Err(format!("unknown action {other}")),
        };
        r.map(|_| ()).map_err(|e| e.message)
    });
    match result {
        Ok(()) => Redirect::to(&format!("/portal/{id}")).into_response(),
        Err(message) => (
            StatusCode::BAD_REQUEST,
            page(
                "Billing",
                &format!("<p class=\"error\">{}</p>", esc(&message)),
            ),
        )
            .into_response(),
    }
}
