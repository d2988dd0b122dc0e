//! A small reader for NGINX configuration files: directives, arguments and
//! blocks, with the file and line of each directive. It follows NGINX's own
//! token rules closely enough for lints: `#` comments, single and double
//! quotes with backslash escapes, `;`, `{` and `}`, and `${name}` variables.

use std::fmt;

/// One directive: `name arg…;` or `name arg… { … }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    /// The directives inside `{ … }`, for block directives.
    pub block: Option<Vec<Directive>>,
    pub file: String,
    pub line: usize,
}

impl Directive {
    pub fn arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(String::as_str)
    }

    pub fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or_default()
    }

    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// A file NGINX would reject before any lint can look at it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SyntaxError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Semicolon,
    Open,
    Close,
}

/// Parses the text of one configuration file into its top-level directives.
pub fn parse(file: &str, text: &str) -> Result<Vec<Directive>, SyntaxError> {
    let tokens = tokenize(file, text)?;
    let mut position = 0;
    let directives = parse_block(file, &tokens, &mut position, None)?;
    Ok(directives)
}

fn parse_block(
    file: &str,
    tokens: &[(Token, usize)],
    position: &mut usize,
    opened_at: Option<usize>,
) -> Result<Vec<Directive>, SyntaxError> {
    let mut directives = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut first_line = 0;

    while let Some((token, line)) = tokens.get(*position) {
        *position += 1;
        match token {
            Token::Word(word) => {
                if words.is_empty() {
                    first_line = *line;
                }
                words.push(word.clone());
            }
            Token::Semicolon => {
                let (name, args) = split_directive(file, *line, &mut words, "`;`")?;
                directives.push(Directive {
                    name,
                    args,
                    block: None,
                    file: file.to_string(),
                    line: first_line,
                });
            }
            Token::Open => {
                let (name, args) = split_directive(file, *line, &mut words, "`{`")?;
                let block = parse_block(file, tokens, position, Some(*line))?;
                directives.push(Directive {
                    name,
                    args,
                    block: Some(block),
                    file: file.to_string(),
                    line: first_line,
                });
            }
            Token::Close => {
                if opened_at.is_none() {
                    return Err(syntax(file, *line, "unexpected `}`"));
                }
                if !words.is_empty() {
                    return Err(syntax(
                        file,
                        first_line,
                        format!("directive `{}` does not end with `;`", words[0]),
                    ));
                }
                return Ok(directives);
            }
        }
    }

    if !words.is_empty() {
        return Err(syntax(
            file,
            first_line,
            format!("directive `{}` does not end with `;`", words[0]),
        ));
    }
    if let Some(line) = opened_at {
        return Err(syntax(
            file,
            line,
            "the block opened here is never closed with `}`",
        ));
    }
    Ok(directives)
}

fn split_directive(
    file: &str,
    line: usize,
    words: &mut Vec<String>,
    what: &str,
) -> Result<(String, Vec<String>), SyntaxError> {
    if words.is_empty() {
        return Err(syntax(file, line, format!("unexpected {what}")));
    }
    let mut taken = std::mem::take(words);
    let name = taken.remove(0);
    Ok((name, taken))
}

fn tokenize(file: &str, text: &str) -> Result<Vec<(Token, usize)>, SyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut index = 0;

    while index < chars.len() {
        let current = chars[index];
        match current {
            '\n' => {
                line += 1;
                index += 1;
            }
            c if c.is_whitespace() => index += 1,
            '#' => {
                while index < chars.len() && chars[index] != '\n' {
                    index += 1;
                }
            }
            ';' => {
                tokens.push((Token::Semicolon, line));
                index += 1;
            }
            '{' => {
                tokens.push((Token::Open, line));
                index += 1;
            }
            '}' => {
                tokens.push((Token::Close, line));
                index += 1;
            }
            '"' | '\'' => {
                let start_line = line;
                let (word, next) = read_quoted(file, &chars, index, &mut line)?;
                tokens.push((Token::Word(word), start_line));
                index = next;
            }
            _ => {
                let (word, next) = read_bare(&chars, index);
                tokens.push((Token::Word(word), line));
                index = next;
            }
        }
    }
    Ok(tokens)
}

/// Reads a quoted argument starting at the quote `chars[start]`.
fn read_quoted(
    file: &str,
    chars: &[char],
    start: usize,
    line: &mut usize,
) -> Result<(String, usize), SyntaxError> {
    let quote = chars[start];
    let start_line = *line;
    let mut word = String::new();
    let mut index = start + 1;

    while index < chars.len() {
        let current = chars[index];
        if current == '\\' && index + 1 < chars.len() {
            let next = chars[index + 1];
            push_escaped(&mut word, next);
            if next == '\n' {
                *line += 1;
            }
            index += 2;
            continue;
        }
        if current == quote {
            return Ok((word, index + 1));
        }
        if current == '\n' {
            *line += 1;
        }
        word.push(current);
        index += 1;
    }
    Err(syntax(
        file,
        start_line,
        format!("the string opened with {quote} is never closed"),
    ))
}

/// Reads an unquoted argument. A `{` right after `$` starts a `${name}`
/// variable and belongs to the argument, and a backslash keeps the next
/// character from ending it.
fn read_bare(chars: &[char], start: usize) -> (String, usize) {
    let mut word = String::new();
    let mut index = start;

    while index < chars.len() {
        let current = chars[index];
        if current == '$' && chars.get(index + 1) == Some(&'{') {
            while index < chars.len() && chars[index] != '}' {
                word.push(chars[index]);
                index += 1;
            }
            if index < chars.len() {
                word.push('}');
                index += 1;
            }
            continue;
        }
        if current == '\\' && index + 1 < chars.len() {
            push_escaped(&mut word, chars[index + 1]);
            index += 2;
            continue;
        }
        if current.is_whitespace() || matches!(current, ';' | '{' | '}' | '"' | '\'') {
            break;
        }
        word.push(current);
        index += 1;
    }
    (word, index)
}

/// Appends the character a backslash escapes, as NGINX does for quoted and
/// bare arguments alike: `\"`, `\'`, `\\`, `\t`, `\r` and `\n` become that
/// character, and any other backslash stays as written, so regular
/// expressions such as `\d` keep their meaning.
fn push_escaped(word: &mut String, next: char) {
    match next {
        '"' | '\'' | '\\' => word.push(next),
        't' => word.push('\t'),
        'r' => word.push('\r'),
        'n' => word.push('\n'),
        other => {
            word.push('\\');
            word.push(other);
        }
    }
}

fn syntax(file: &str, line: usize, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        file: file.to_string(),
        line,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parse_nested_blocks_with_lines() {
        let text = "http {\n    # comment\n    server {\n        listen 80;\n    }\n}\n";
        let tree = parse("nginx.conf", text).unwrap();
        assert_eq!(tree.len(), 1);
        assert_eq!(tree[0].name, "http");
        let server = &tree[0].children()[0];
        assert_eq!(server.name, "server");
        assert_eq!(server.line, 3);
        assert_eq!(server.children()[0].args, vec!["80".to_string()]);
        assert_eq!(server.children()[0].line, 4);
    }

    #[test]
    fn parse_quoted_regex_keeps_backslashes() {
        let tree = parse("a.conf", r#"location ~ "^/a\d+(/|$)" { }"#).unwrap();
        assert_eq!(
            tree[0].args,
            vec!["~".to_string(), r"^/a\d+(/|$)".to_string()]
        );
    }

    #[test]
    fn parse_variable_braces_stay_in_word() {
        let tree = parse("a.conf", "set $a ${host}x;").unwrap();
        assert_eq!(tree[0].args, vec!["$a".to_string(), "${host}x".to_string()]);
    }

    #[test]
    fn parse_reports_missing_semicolon() {
        let error = parse("a.conf", "http {\n  listen 80\n}\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.contains("does not end with `;`"), "{error}");
    }

    #[test]
    fn parse_reports_unclosed_block() {
        let error = parse("a.conf", "http {\n  server {\n}\n").unwrap_err();
        assert_eq!(error.line, 1);
        assert!(error.message.contains("never closed"), "{error}");
    }
}
