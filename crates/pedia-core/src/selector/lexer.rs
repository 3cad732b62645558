//! The tokenizer shared by the label and field selector parsers.
//!
//! It follows Kubernetes' label-selector lexer: the only special symbols are
//! `= ! ( ) , > <`, whitespace separates tokens, and every other run of characters is an
//! identifier. That is why field-selector keys such as `metadata.annotations['a.b']` and
//! `spec.containers[].image` lex as one identifier: brackets, quotes and dots are ordinary
//! characters here and only the field-path parser gives them meaning.

use std::fmt;

/// One token. Identifiers borrow from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token<'a> {
    Identifier(&'a str),
    /// The keyword `in`; an identifier where a value is expected.
    In,
    /// The keyword `notin`; an identifier where a value is expected.
    NotIn,
    OpenParen,
    CloseParen,
    Comma,
    /// `!`, the prefix of a does-not-exist requirement.
    Bang,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
    EndOfString,
}

impl Token<'_> {
    /// Kubernetes lets `in` and `notin` be keys and values; only the parser knows which
    /// position it is in, so it asks for this view where a key or value is expected.
    pub(super) fn as_value(self) -> Self {
        match self {
            Token::In => Token::Identifier("in"),
            Token::NotIn => Token::Identifier("notin"),
            other => other,
        }
    }
}

impl fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Token::Identifier(s) => return write!(f, "'{s}'"),
            Token::EndOfString => return f.write_str("end of string"),
            Token::In => "in",
            Token::NotIn => "notin",
            Token::OpenParen => "(",
            Token::CloseParen => ")",
            Token::Comma => ",",
            Token::Bang => "!",
            Token::Equals => "=",
            Token::DoubleEquals => "==",
            Token::NotEquals => "!=",
            Token::GreaterThan => ">",
            Token::LessThan => "<",
        };
        write!(f, "'{text}'")
    }
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits `input` into tokens, ending with exactly one [`Token::EndOfString`].
pub(super) fn tokenize(input: &str) -> Vec<Token<'_>> {
    let bytes = input.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && is_whitespace(bytes[pos]) {
            pos += 1;
        }
        let Some(&c) = bytes.get(pos) else {
            tokens.push(Token::EndOfString);
            return tokens;
        };
        if is_special(c) {
            let next = bytes.get(pos + 1).copied();
            // Longest match wins, as in Kubernetes: `!=` and `==` are single tokens, while
            // `=!` or `((` are two.
            let (token, len) = match (c, next) {
                (b'!', Some(b'=')) => (Token::NotEquals, 2),
                (b'=', Some(b'=')) => (Token::DoubleEquals, 2),
                (b'!', _) => (Token::Bang, 1),
                (b'=', _) => (Token::Equals, 1),
                (b'(', _) => (Token::OpenParen, 1),
                (b')', _) => (Token::CloseParen, 1),
                (b',', _) => (Token::Comma, 1),
                (b'>', _) => (Token::GreaterThan, 1),
                _ => (Token::LessThan, 1),
            };
            tokens.push(token);
            pos += len;
        } else {
            let start = pos;
            while pos < bytes.len() && !is_special(bytes[pos]) && !is_whitespace(bytes[pos]) {
                pos += 1;
            }
            // Safe to slice: both ends sit next to ASCII bytes or the string's ends, so
            // they are char boundaries even when the identifier holds non-ASCII text.
            let word = &input[start..pos];
            tokens.push(match word {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier(word),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Token::*;
    use super::*;

    #[test]
    fn empty_and_blank_input_is_just_the_end() {
        assert_eq!(tokenize(""), vec![EndOfString]);
        assert_eq!(tokenize(" \t\r\n "), vec![EndOfString]);
    }

    #[test]
    fn every_symbol() {
        assert_eq!(
            tokenize("( ) , ! = == != > < in notin"),
            vec![
                OpenParen,
                CloseParen,
                Comma,
                Bang,
                Equals,
                DoubleEquals,
                NotEquals,
                GreaterThan,
                LessThan,
                In,
                NotIn,
                EndOfString
            ]
        );
    }

    #[test]
    fn symbols_need_no_whitespace() {
        assert_eq!(
            tokenize("a=b,c!=d,!e,f in (g,h)"),
            vec![
                Identifier("a"),
                Equals,
                Identifier("b"),
                Comma,
                Identifier("c"),
                NotEquals,
                Identifier("d"),
                Comma,
                Bang,
                Identifier("e"),
                Comma,
                Identifier("f"),
                In,
                OpenParen,
                Identifier("g"),
                Comma,
                Identifier("h"),
                CloseParen,
                EndOfString
            ]
        );
    }

    #[test]
    fn longest_symbol_match() {
        assert_eq!(tokenize("==="), vec![DoubleEquals, Equals, EndOfString]);
        assert_eq!(tokenize("=!"), vec![Equals, Bang, EndOfString]);
        assert_eq!(tokenize("!!="), vec![Bang, NotEquals, EndOfString]);
        assert_eq!(tokenize("(("), vec![OpenParen, OpenParen, EndOfString]);
        assert_eq!(tokenize(">="), vec![GreaterThan, Equals, EndOfString]);
    }

    #[test]
    fn keywords_only_when_whole_words() {
        assert_eq!(
            tokenize("inx notinx in"),
            vec![Identifier("inx"), Identifier("notinx"), In, EndOfString]
        );
        assert_eq!(In.as_value(), Identifier("in"));
        assert_eq!(NotIn.as_value(), Identifier("notin"));
        assert_eq!(Comma.as_value(), Comma);
    }

    #[test]
    fn field_keys_are_single_identifiers() {
        assert_eq!(
            tokenize(r#"metadata.annotations['a.b']=x,spec.containers[].image!="y""#),
            vec![
                Identifier("metadata.annotations['a.b']"),
                Equals,
                Identifier("x"),
                Comma,
                Identifier("spec.containers[].image"),
                NotEquals,
                Identifier("\"y\""),
                EndOfString
            ]
        );
    }

    #[test]
    fn non_ascii_identifiers_stay_whole() {
        assert_eq!(
            tokenize("ключ=значение"),
            vec![
                Identifier("ключ"),
                Equals,
                Identifier("значение"),
                EndOfString
            ]
        );
    }

    #[test]
    fn tokens_display_for_messages() {
        assert_eq!(Identifier("x").to_string(), "'x'");
        assert_eq!(OpenParen.to_string(), "'('");
        assert_eq!(NotIn.to_string(), "'notin'");
        assert_eq!(EndOfString.to_string(), "end of string");
    }
}
