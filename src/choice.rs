//! Named choices (`--clustering-method`, `--format`, `--prunetype`, …). Every
//! option enum derives clap's `ValueEnum`: one declaration gives the CLI's
//! values and aliases, `FromStr` for the library and the Python front-end, the
//! name shown by `Display`, and an error that lists what is accepted.

use crate::error::{Error, Result};
use clap::ValueEnum;

/// Parses `s` as one of `T`'s values, case-insensitively, aliases included;
/// `what` names the option in the error.
pub fn parse<T: ValueEnum>(s: &str, what: &str) -> Result<T> {
    T::from_str(s.trim(), true).map_err(|_| {
        Error::Usage(format!(
            "unknown {what} '{s}'; use one of: {}",
            names::<T>().join(", ")
        ))
    })
}

/// The canonical names of `T`'s values, in declaration order.
pub fn names<T: ValueEnum>() -> Vec<String> {
    T::value_variants()
        .iter()
        .filter_map(|v| v.to_possible_value())
        .map(|p| p.get_name().to_string())
        .collect()
}

/// `FromStr` and `Display` for a `ValueEnum`, so library callers parse and print
/// the same spellings as the CLI.
macro_rules! value_enum_str {
    ($t:ty, $what:expr) => {
        impl std::str::FromStr for $t {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                $crate::choice::parse(s, $what)
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let v = clap::ValueEnum::to_possible_value(self).ok_or(std::fmt::Error)?;
                f.write_str(v.get_name())
            }
        }
    };
}
pub(crate) use value_enum_str;
