//! Domain models. Timestamps are UTC milliseconds ([`ferrodon_kernel::time::Millis`]).

mod account;
mod announcement;
mod app;
mod card;
mod filter;
mod job;
mod list;
mod mail;
mod media;
mod notification;
mod outbound;
mod received;
mod relationship;
mod report;
mod status;

pub use account::*;
pub use announcement::*;
pub use app::*;
pub use card::*;
pub use filter::*;
pub use job::*;
pub use list::*;
pub use mail::*;
pub use media::*;
pub use notification::*;
pub use outbound::*;
pub use received::*;
pub use relationship::*;
pub use report::*;
pub use status::*;

/// Declares a string-backed enum with its wire names (stored as TEXT by every backend).
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s).ok_or_else(|| format!("unknown {} {s:?}", stringify!($name)))
            }
        }
    };
}
pub(crate) use string_enum;
