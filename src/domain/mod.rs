//! Pure rules and typed values: no I/O here, so everything is table-tested.

pub mod access;
pub mod catalog;
pub mod email;
pub mod password;
pub mod subscription;
pub mod usage;

pub use catalog::Catalog;
pub use email::Email;
pub use password::{LoginPassword, Password};
