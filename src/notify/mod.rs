//! Background work in the serve process: it uses the domain and the store, never handlers.

pub mod sweeper;
