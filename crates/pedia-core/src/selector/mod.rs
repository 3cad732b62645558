//! Label and field selectors: the shared requirement model, parsers and matchers.
//!
//! Both grammars follow Kubernetes' label-selector grammar (`=`, `==`, `!=`, `in`,
//! `notin`, `key`, `!key`, `>`, `<`); field selectors use Clusterpedia's enhanced keys
//! (`metadata.annotations['a.b']`, `spec.containers[0].image`).

mod field;
mod grammar;
mod label;
mod lexer;

pub use field::{FieldPath, FieldRequirement, FieldSelector, PathSegment};
pub use label::{LabelRequirement, LabelSelector, validate_label_key, validate_label_value};

use std::fmt;

/// The operator of one selector requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Operator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// Whether a value satisfies this operator against `values`, with Kubernetes'
    /// semantics for absent keys: `!=`, `notin` and `!key` match when the value is absent;
    /// `>`/`<` need a present integer value.
    pub fn matches(self, actual: Option<&str>, values: &[String]) -> bool {
        match self {
            Operator::Equals | Operator::DoubleEquals | Operator::In => {
                actual.is_some_and(|a| values.iter().any(|v| v == a))
            }
            Operator::NotEquals | Operator::NotIn => {
                actual.is_none_or(|a| values.iter().all(|v| v != a))
            }
            Operator::Exists => actual.is_some(),
            Operator::DoesNotExist => actual.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(a), Some(v)) = (
                    actual.and_then(|a| a.parse::<i64>().ok()),
                    values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self == Operator::GreaterThan {
                    a > v
                } else {
                    a < v
                }
            }
        }
    }

    /// True for the operators that match objects lacking the key.
    pub fn matches_absent(self) -> bool {
        matches!(
            self,
            Operator::NotEquals | Operator::NotIn | Operator::DoesNotExist
        )
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
        })
    }
}
