//! Background work in the serve process, using the domain and the store, never handlers:
//! the window sweeper, and the webhook dispatcher with its signer and SSRF guard.

pub mod dispatcher;
pub mod mail;
pub mod signing;
pub mod ssrf;
pub mod sweeper;

pub use dispatcher::Dispatcher;
