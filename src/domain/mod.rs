//! Pure rules of the sub-processor domain: no actix, no diesel, time comes in as arguments.

pub mod agreement;
pub mod authorised;
pub mod change;
pub mod contact;
pub mod deadline;
pub mod decide;
pub mod error;
pub mod event;
pub mod evidence;
pub mod geography;
pub mod language;
pub mod log;
pub mod mail;
pub mod notice;
pub mod party;
pub mod registration;
pub mod replay;
pub mod resolution;
pub mod subprocessor;
pub mod subscription;
pub mod text;
pub mod webhook;
pub mod window;

pub use error::{DomainError, FieldError};
