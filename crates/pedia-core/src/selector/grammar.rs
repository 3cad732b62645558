//! The requirement grammar both selector kinds share: Kubernetes' label-selector syntax
//! with its quirks kept (keys and values may be `in`/`notin`, `k=` means the empty value,
//! `k in ()` means `k in ("")`). The label and field parsers only interpret keys.

use std::fmt;

use super::Operator;
use super::lexer::{Token, tokenize};

/// A requirement as written, before its key is validated or interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RawRequirement<'a> {
    pub(super) key: &'a str,
    pub(super) operator: Operator,
    /// Sorted and deduplicated.
    pub(super) values: Vec<String>,
}

/// Parses a comma-separated list of requirements, in input order.
pub(super) fn parse(input: &str) -> Result<Vec<RawRequirement<'_>>, String> {
    Parser {
        tokens: tokenize(input),
        pos: 0,
    }
    .requirements()
}

/// Checks the number and form of values an operator takes, as Kubernetes'
/// `NewRequirement` does. The grammar already guarantees most of it; `>`/`<` integers
/// are the rule a user can actually break.
pub(super) fn check_values(key: &str, operator: Operator, values: &[String]) -> Result<(), String> {
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => Err(format!(
            "key {key:?}: for 'in', 'notin' operators, values set can't be empty"
        )),
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => {
            Err(format!(
                "key {key:?}: exact-match compatibility requires one single value"
            ))
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => Err(format!(
            "key {key:?}: values set must be empty for exists and does not exist"
        )),
        Operator::GreaterThan | Operator::LessThan => match values {
            [v] if v.parse::<i64>().is_ok() => Ok(()),
            [v] => Err(format!(
                "key {key:?}: for '>', '<' operators, the value must be an integer, found {v:?}"
            )),
            _ => Err(format!(
                "key {key:?}: for '>', '<' operators, exactly one value is required"
            )),
        },
        _ => Ok(()),
    }
}

/// Writes one requirement in the syntax [`parse`] reads back.
pub(super) fn write_requirement(
    f: &mut fmt::Formatter<'_>,
    key: &str,
    operator: Operator,
    values: &[String],
) -> fmt::Result {
    match operator {
        Operator::Exists => f.write_str(key),
        Operator::DoesNotExist => write!(f, "!{key}"),
        Operator::In | Operator::NotIn => write!(f, "{key} {operator} ({})", values.join(",")),
        Operator::Equals
        | Operator::DoubleEquals
        | Operator::NotEquals
        | Operator::GreaterThan
        | Operator::LessThan => write!(f, "{key}{operator}{}", values.join(",")),
    }
}

/// Writes requirements comma-separated.
pub(super) fn write_all<'r>(
    f: &mut fmt::Formatter<'_>,
    requirements: impl IntoIterator<Item = (&'r str, Operator, &'r [String])>,
) -> fmt::Result {
    for (i, (key, operator, values)) in requirements.into_iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write_requirement(f, key, operator, values)?;
    }
    Ok(())
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    /// The next token, seen as a key or value (`in`/`notin` become identifiers).
    fn peek_value(&self) -> Token<'a> {
        self.peek_raw().as_value()
    }

    fn peek_raw(&self) -> Token<'a> {
        // The token list always ends with EndOfString and we never step past it.
        self.tokens
            .get(self.pos)
            .copied()
            .unwrap_or(Token::EndOfString)
    }

    fn next_raw(&mut self) -> Token<'a> {
        let token = self.peek_raw();
        if token != Token::EndOfString {
            self.pos += 1;
        }
        token
    }

    fn next_value(&mut self) -> Token<'a> {
        self.next_raw().as_value()
    }

    fn requirements(&mut self) -> Result<Vec<RawRequirement<'a>>, String> {
        let mut out = Vec::new();
        loop {
            match self.peek_value() {
                Token::Identifier(_) | Token::Bang => {
                    out.push(self.requirement()?);
                    match self.next_value() {
                        Token::EndOfString => return Ok(out),
                        Token::Comma => match self.peek_value() {
                            Token::Identifier(_) | Token::Bang => {}
                            other => {
                                return Err(format!(
                                    "found {other}, expected: identifier after ','"
                                ));
                            }
                        },
                        other => {
                            return Err(format!("found {other}, expected: ',' or end of string"));
                        }
                    }
                }
                Token::EndOfString => return Ok(out),
                other => {
                    return Err(format!(
                        "found {other}, expected: '!', identifier, or end of string"
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<RawRequirement<'a>, String> {
        let mut negated = false;
        let mut token = self.next_value();
        if token == Token::Bang {
            negated = true;
            token = self.next_value();
        }
        let Token::Identifier(key) = token else {
            return Err(format!("found {token}, expected: identifier"));
        };
        let ends_here = matches!(self.peek_value(), Token::EndOfString | Token::Comma);
        if negated || ends_here {
            // `!key=value` is left for the caller to reject at the `=`, as Kubernetes does.
            let operator = if negated {
                Operator::DoesNotExist
            } else {
                Operator::Exists
            };
            return Ok(RawRequirement {
                key,
                operator,
                values: Vec::new(),
            });
        }
        let operator = match self.next_raw() {
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::NotEquals => Operator::NotEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            other => {
                return Err(format!(
                    "found {other}, expected: in, notin, =, ==, !=, >, <"
                ));
            }
        };
        let mut values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => vec![self.exact_value()?],
        };
        values.sort();
        values.dedup();
        Ok(RawRequirement {
            key,
            operator,
            values,
        })
    }

    /// `(a,b)`. Empty entries are the empty value, so `()` and `(a,)` hold `""`.
    fn value_set(&mut self) -> Result<Vec<String>, String> {
        match self.next_value() {
            Token::OpenParen => {}
            other => return Err(format!("found {other}, expected: '('")),
        }
        match self.peek_value() {
            Token::CloseParen => {
                self.next_raw();
                return Ok(vec![String::new()]);
            }
            Token::Identifier(_) | Token::Comma => {}
            other => return Err(format!("found {other}, expected: ',', ')' or identifier")),
        }
        let mut values = Vec::new();
        // True when the last thing read was a separator, so an empty entry may follow.
        let mut after_separator = true;
        loop {
            match self.next_value() {
                Token::Identifier(v) if after_separator => {
                    values.push(v.to_owned());
                    after_separator = false;
                }
                Token::Comma => {
                    if after_separator {
                        values.push(String::new());
                    }
                    after_separator = true;
                }
                Token::CloseParen => {
                    if after_separator {
                        values.push(String::new());
                    }
                    return Ok(values);
                }
                other if after_separator => {
                    return Err(format!("found {other}, expected: ',', ')' or identifier"));
                }
                other => return Err(format!("found {other}, expected: ',' or ')'")),
            }
        }
    }

    /// The single value after `=`, `==`, `!=`, `>`, `<`; nothing there means `""`.
    fn exact_value(&mut self) -> Result<String, String> {
        match self.peek_value() {
            Token::EndOfString | Token::Comma => Ok(String::new()),
            _ => match self.next_value() {
                Token::Identifier(v) => Ok(v.to_owned()),
                other => Err(format!("found {other}, expected: identifier")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &str) -> (String, Operator, Vec<String>) {
        let mut reqs = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(reqs.len(), 1, "{input:?}");
        let r = reqs.remove(0);
        (r.key.to_owned(), r.operator, r.values)
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn every_operator() {
        assert_eq!(one("a=b"), ("a".into(), Operator::Equals, strs(&["b"])));
        assert_eq!(
            one("a==b"),
            ("a".into(), Operator::DoubleEquals, strs(&["b"]))
        );
        assert_eq!(one("a!=b"), ("a".into(), Operator::NotEquals, strs(&["b"])));
        assert_eq!(
            one("a in (c,b,c)"),
            ("a".into(), Operator::In, strs(&["b", "c"]))
        );
        assert_eq!(
            one("a notin (b)"),
            ("a".into(), Operator::NotIn, strs(&["b"]))
        );
        assert_eq!(one("a"), ("a".into(), Operator::Exists, vec![]));
        assert_eq!(one("!a"), ("a".into(), Operator::DoesNotExist, vec![]));
        assert_eq!(
            one("a>3"),
            ("a".into(), Operator::GreaterThan, strs(&["3"]))
        );
        assert_eq!(one("a<3"), ("a".into(), Operator::LessThan, strs(&["3"])));
    }

    #[test]
    fn whitespace_is_free() {
        assert_eq!(
            one("  a   in(  b ,c )  "),
            ("a".into(), Operator::In, strs(&["b", "c"]))
        );
        assert_eq!(one(" ! a "), ("a".into(), Operator::DoesNotExist, vec![]));
        assert_eq!(one("a = b"), ("a".into(), Operator::Equals, strs(&["b"])));
    }

    #[test]
    fn empty_values_like_kubernetes() {
        assert_eq!(one("a="), ("a".into(), Operator::Equals, strs(&[""])));
        assert_eq!(one("a!="), ("a".into(), Operator::NotEquals, strs(&[""])));
        assert_eq!(one("a in ()"), ("a".into(), Operator::In, strs(&[""])));
        assert_eq!(one("a in (,)"), ("a".into(), Operator::In, strs(&[""])));
        assert_eq!(
            one("a in (b,)"),
            ("a".into(), Operator::In, strs(&["", "b"]))
        );
        assert_eq!(
            one("a in (,b)"),
            ("a".into(), Operator::In, strs(&["", "b"]))
        );
        assert_eq!(
            one("a in (b,,c)"),
            ("a".into(), Operator::In, strs(&["", "b", "c"]))
        );
        let reqs = parse("a=,b").unwrap_or_default();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].values, strs(&[""]));
        assert_eq!(reqs[1].operator, Operator::Exists);
    }

    #[test]
    fn keywords_as_keys_and_values() {
        assert_eq!(
            one("in=notin"),
            ("in".into(), Operator::Equals, strs(&["notin"]))
        );
        assert_eq!(
            one("notin in (in,notin)"),
            ("notin".into(), Operator::In, strs(&["in", "notin"]))
        );
        assert_eq!(one("in"), ("in".into(), Operator::Exists, vec![]));
        assert_eq!(
            one("!notin"),
            ("notin".into(), Operator::DoesNotExist, vec![])
        );
    }

    #[test]
    fn several_requirements_keep_input_order() {
        let reqs = parse("z=1,!y,x in (a),w").unwrap_or_default();
        let keys: Vec<_> = reqs.iter().map(|r| r.key).collect();
        assert_eq!(keys, ["z", "y", "x", "w"]);
    }

    #[test]
    fn empty_input() {
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse("   "), Ok(vec![]));
    }

    #[test]
    fn syntax_errors_name_the_token() {
        let cases = [
            (
                "(",
                "found '(', expected: '!', identifier, or end of string",
            ),
            (
                ",a",
                "found ',', expected: '!', identifier, or end of string",
            ),
            ("a,", "found end of string, expected: identifier after ','"),
            ("a,,b", "found ',', expected: identifier after ','"),
            ("a b", "found 'b', expected: in, notin, =, ==, !=, >, <"),
            ("a=b c", "found 'c', expected: ',' or end of string"),
            ("a=b=c", "found '=', expected: ',' or end of string"),
            ("!a=b", "found '=', expected: ',' or end of string"),
            ("!", "found end of string, expected: identifier"),
            ("!!a", "found '!', expected: identifier"),
            ("!(", "found '(', expected: identifier"),
            ("a=(", "found '(', expected: identifier"),
            ("a in b", "found 'b', expected: '('"),
            ("a in", "found end of string, expected: '('"),
            (
                "a in (",
                "found end of string, expected: ',', ')' or identifier",
            ),
            ("a in (b", "found end of string, expected: ',' or ')'"),
            ("a in (b c)", "found 'c', expected: ',' or ')'"),
            (
                "a in (b,",
                "found end of string, expected: ',', ')' or identifier",
            ),
            ("a in ((", "found '(', expected: ',', ')' or identifier"),
            ("a in (b,=)", "found '=', expected: ',', ')' or identifier"),
            ("a in (b))", "found ')', expected: ',' or end of string"),
            ("a ! b", "found '!', expected: in, notin, =, ==, !=, >, <"),
            ("a=!", "found '!', expected: identifier"),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), Err(want.to_owned()), "{input:?}");
        }
    }

    #[test]
    fn value_arity_checks() {
        assert!(check_values("k", Operator::In, &strs(&["a"])).is_ok());
        assert!(
            check_values("k", Operator::In, &[])
                .expect_err("must be rejected")
                .contains("values set can't be empty")
        );
        assert!(
            check_values("k", Operator::NotIn, &[])
                .expect_err("must be rejected")
                .contains("values set can't be empty")
        );
        assert!(
            check_values("k", Operator::Equals, &strs(&["a", "b"]))
                .expect_err("must be rejected")
                .contains("one single value")
        );
        assert!(
            check_values("k", Operator::Exists, &strs(&["a"]))
                .expect_err("must be rejected")
                .contains("must be empty")
        );
        assert!(check_values("k", Operator::GreaterThan, &strs(&["-3"])).is_ok());
        assert!(
            check_values("k", Operator::LessThan, &strs(&["3.5"]))
                .expect_err("must be rejected")
                .contains("must be an integer")
        );
        assert!(
            check_values("k", Operator::LessThan, &strs(&[""]))
                .expect_err("must be rejected")
                .contains("must be an integer")
        );
        assert!(
            check_values("k", Operator::GreaterThan, &strs(&["99999999999999999999"]))
                .expect_err("must be rejected")
                .contains("must be an integer")
        );
        assert!(
            check_values("k", Operator::GreaterThan, &strs(&["1", "2"]))
                .expect_err("must be rejected")
                .contains("exactly one value")
        );
    }
}
