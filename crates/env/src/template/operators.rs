//! The six `${NAME<op>operand}` operators.

use super::{Substituter, TemplateError};

/// An operator of a braced expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operator {
    /// `:?` error when unset or empty.
    RequiredNonEmpty,
    /// `?` error when unset.
    Required,
    /// `:-` default when unset or empty.
    DefaultNonEmpty,
    /// `-` default when unset.
    Default,
    /// `:+` alternate when set and not empty.
    AlternateNonEmpty,
    /// `+` alternate when set.
    Alternate,
}

impl Operator {
    const ALL: [Operator; 6] = [
        Operator::RequiredNonEmpty,
        Operator::Required,
        Operator::DefaultNonEmpty,
        Operator::Default,
        Operator::AlternateNonEmpty,
        Operator::Alternate,
    ];

    fn token(self) -> &'static str {
        match self {
            Operator::RequiredNonEmpty => ":?",
            Operator::Required => "?",
            Operator::DefaultNonEmpty => ":-",
            Operator::Default => "-",
            Operator::AlternateNonEmpty => ":+",
            Operator::Alternate => "+",
        }
    }

    /// The operator compose applies to a whole match: the one whose token occurs first in it.
    pub(super) fn for_match(matched: &str) -> Option<Operator> {
        Operator::ALL
            .iter()
            .filter_map(|op| matched.find(op.token()).map(|at| (at, *op)))
            .min_by_key(|(at, _)| *at)
            .map(|(_, op)| op)
    }

    /// Evaluates `content` (what is between the braces) with this operator; `Ok(None)` if the
    /// operator's token is not in it. The operand is substituted first, whether used or not.
    pub(super) fn apply(self, content: &str, sub: &mut Substituter<'_, '_>) -> Result<Option<String>, TemplateError> {
        let Some((name, operand)) = content.split_once(self.token()) else {
            return Ok(None);
        };
        let operand = sub.run(operand)?;
        let value = sub.lookup.lookup(name);
        let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
        let result = match self {
            Operator::RequiredNonEmpty | Operator::Required => {
                let present = if self == Operator::Required { value.is_some() } else { non_empty };
                if !present {
                    return Err(TemplateError::Required { name: name.to_string(), message: operand });
                }
                value.unwrap_or_default()
            }
            Operator::DefaultNonEmpty => if non_empty { value.unwrap_or_default() } else { operand },
            Operator::Default => value.unwrap_or(operand),
            Operator::AlternateNonEmpty => if non_empty { operand } else { value.unwrap_or_default() },
            Operator::Alternate => if value.is_some() { operand } else { String::new() },
        };
        Ok(Some(result))
    }
}

#[cfg(test)]
mod tests {
    use super::Operator::{self, *};

    #[test]
    fn the_first_token_in_the_match_wins() {
        let cases: [(&str, Option<Operator>); 14] = [
            ("${V:?val?ue}", Some(RequiredNonEmpty)),
            ("${V?val:?ue}", Some(Required)),
            ("${V?va-lu+e:?e}", Some(Required)),
            ("${V:-value}", Some(DefaultNonEmpty)),
            ("${V-va:-lu:?e}", Some(Default)),
            ("${V-va+lu?e}", Some(Default)),
            ("${V:+va:?lu:-e}", Some(AlternateNonEmpty)),
            ("${V+va:+lue}", Some(Alternate)),
            ("${V+va?lu-e}", Some(Alternate)),
            ("${V+va-lu?e}", Some(Alternate)),
            ("${V?va+lu-e:?e}", Some(Required)),
            ("${V-va?lu+e}", Some(Default)),
            ("${V}", None),
            ("$V", None),
        ];
        for (text, want) in cases {
            assert_eq!(Operator::for_match(text), want, "{text}");
        }
    }
}
