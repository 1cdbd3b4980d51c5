//! Background notification work: the webhook dispatcher, its signer and its SSRF guard.

pub mod dispatcher;
pub mod signing;
pub mod ssrf;

pub use dispatcher::Dispatcher;
