//! The word processor of BuildKit's `frontend/dockerfile/shell` lexer: quotes, escapes and
//! `$` substitutions in one pass, collecting the result as one word and as shell words.

use std::collections::BTreeSet;

use super::pattern;
use super::Variables;

/// One word being processed.
pub(crate) struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    env: &'a dyn Variables,
    /// Variables looked up and set.
    pub matched: BTreeSet<String>,
    /// Variables looked up and unset.
    pub unmatched: BTreeSet<String>,
}

/// Shell words as they are formed: unquoted whitespace splits, quoted text does not.
#[derive(Default)]
pub(crate) struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, text: &str) {
        text.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_string(&mut self, text: &str) {
        self.word.push_str(text);
        self.in_word = true;
    }

    /// The words, the last one closed.
    pub(crate) fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

impl<'a> Lexer<'a> {
    /// A lexer over `word`.
    pub(crate) fn new(word: &str, escape: char, env: &'a dyn Variables) -> Self {
        Self { chars: word.chars().collect(), pos: 0, escape, env, matched: BTreeSet::new(), unmatched: BTreeSet::new() }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let ch = self.peek();
        self.pos += ch.is_some() as usize;
        ch
    }

    fn lookup(&mut self, name: &str) -> Option<String> {
        let value = self.env.value(name).map(str::to_string);
        match value {
            Some(_) => self.matched.insert(name.to_string()),
            None => self.unmatched.insert(name.to_string()),
        };
        value
    }

    /// The whole word, and its shell words.
    pub(crate) fn process(&mut self) -> Result<(String, Vec<String>), String> {
        self.process_until(None, false)
    }

    fn process_until(&mut self, stop: Option<char>, raw_escapes: bool) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match ch {
                '\'' => {
                    let text = self.single_quoted()?;
                    result.push_str(&text);
                    words.add_raw_string(&text);
                }
                '"' => {
                    let text = self.double_quoted()?;
                    result.push_str(&text);
                    words.add_raw_string(&text);
                }
                '$' => {
                    let text = self.dollar()?;
                    result.push_str(&text);
                    words.add_string(&text);
                }
                _ => {
                    self.next();
                    if ch == self.escape {
                        if raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        let Some(escaped) = self.next() else { break };
                        words.add_raw_char(escaped);
                        result.push(escaped);
                    } else {
                        words.add_char(ch);
                        result.push(ch);
                    }
                }
            }
        }
        match stop {
            Some(stop) => Err(format!("unexpected end of statement while looking for matching {stop}")),
            None => Ok((result, words.finish())),
        }
    }

    fn single_quoted(&mut self) -> Result<String, String> {
        self.next();
        let mut out = String::new();
        loop {
            match self.next() {
                None => return Err("unexpected end of statement while looking for matching single-quote".into()),
                Some('\'') => return Ok(out),
                Some(ch) => out.push(ch),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, String> {
        self.next();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err("unexpected end of statement while looking for matching double-quote".into()),
                Some('"') => {
                    self.next();
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(ch) => {
                    self.next();
                    if ch == self.escape {
                        match self.peek() {
                            None => continue,
                            Some(next) if next == '"' || next == '$' || next == self.escape => {
                                self.next();
                                out.push(next);
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    /// A name after `$`: letters, digits and `_`; a run of digits; or one special parameter.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && "@*#?-$!0".contains(ch) {
                self.next();
                return ch.to_string();
            }
            if !(ch.is_alphanumeric() || ch == '_') {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }

    fn dollar(&mut self) -> Result<String, String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.lookup(&name).unwrap_or_default());
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            _ => {}
        }
        let name = self.name();
        let Some(mut modifier) = self.next() else { return Err("syntax error: missing '}'".into()) };
        let mut written = modifier.to_string();
        match modifier {
            '}' => Ok(self.lookup(&name).unwrap_or_default()),
            '/' => self.substitute(&name),
            ':' | '+' | '-' | '?' | '#' | '%' => {
                let null_is_unset = modifier == ':';
                if null_is_unset {
                    modifier = self.next().ok_or("syntax error: missing '}'")?;
                    written.push(modifier);
                }
                let pattern_like = modifier == '#' || modifier == '%';
                if (null_is_unset && pattern_like) || !"+-?#%".contains(modifier) {
                    return Err(format!("unsupported modifier ({written}) in substitution"));
                }
                let (word, _) = self.process_until(Some('}'), pattern_like).map_err(|e| self.missing_brace(e))?;
                let value = self.lookup(&name);
                let empty = value.is_none() || (null_is_unset && value.as_deref() == Some(""));
                match modifier {
                    '-' => Ok(if empty { word } else { value.unwrap_or_default() }),
                    '+' => Ok(if empty { String::new() } else { word }),
                    '?' => match value {
                        None => Err(format!("{name}: {}", if word.is_empty() { "is not allowed to be unset" } else { &word })),
                        Some(_) if empty => Err(format!("{name}: {}", if word.is_empty() { "is not allowed to be empty" } else { &word })),
                        Some(v) => Ok(v),
                    },
                    _ => {
                        let value = value.unwrap_or_default();
                        let (greedy, pattern) = match word.strip_prefix(modifier) {
                            Some(rest) => (true, rest),
                            None => (false, word.as_str()),
                        };
                        if modifier == '%' {
                            pattern::trim_suffix(&value, pattern, greedy)
                        } else {
                            pattern::trim_prefix(&value, pattern, greedy)
                        }
                    }
                }
            }
            _ => Err(format!("unsupported modifier ({written}) in substitution")),
        }
    }

    fn missing_brace(&self, error: String) -> String {
        if self.peek().is_none() {
            "syntax error: missing '}'".into()
        } else {
            error
        }
    }

    /// `${name/pattern/replacement}` and `${name//pattern/replacement}`.
    fn substitute(&mut self, name: &str) -> Result<String, String> {
        let all = self.peek() == Some('/');
        if all {
            self.next();
        }
        let (pattern, _) = self.process_until(Some('/'), true).map_err(|e| if self.peek().is_none() { "syntax error: missing '/' in ${}".to_string() } else { e })?;
        let (replacement, _) = self.process_until(Some('}'), true).map_err(|e| self.missing_brace(e))?;
        let value = self.lookup(name).unwrap_or_default();
        pattern::replace(&value, &pattern, &replacement, all)
    }
}
