#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod body;
#[cfg(feature = "axum")]
mod extract;
mod layer;

pub use body::AuthBody;
#[cfg(feature = "axum")]
pub use extract::{AuthRejection, Authenticated, ScopeRejection};
pub use layer::{
    ACCESS_TOKEN, AuthLayer, AuthLayerBuilder, AuthService, ConfigError, ResponseFuture,
    mark_sensitive, token_header,
};
/// The core crate, re-exported: `Keyring`, `Principal`, `Profile`, …
pub use whatsgate_auth;
pub use whatsgate_auth::{Keyring, Principal, Profile, Rejection, Scope, Scopes, Timestamp};
