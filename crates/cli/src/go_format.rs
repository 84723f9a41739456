//! `--format` as Docker takes it: `table` (the command's own columns), `json` (one object per
//! line), or a Go template (`{{.Name}}`, `table {{.Name}}\t{{.Status}}`, `{{json .}}`) with
//! Docker's template functions (`json`, `split`, `join`, `title`, `lower`, `upper`, `pad`,
//! `truncate`) besides Go's own (`println`, `printf`, `index`, `len`, ...). Templates run with
//! the gtmpl crate; `\t` and `\n` written in the format are a tab and a newline, as Docker reads
//! them; a `table` template gets a header row and Docker's aligned columns.

use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, Result};
use gtmpl::{Context, Func, FuncError, Template, Value};

/// What `--format` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// The command's default table.
    Table,
    /// One JSON object per line.
    Json,
    /// A Go template, run on each item; `table` ones with a header row and aligned columns.
    Template {
        /// The template text, `\t` and `\n` turned into a tab and a newline.
        text: String,
        /// Whether it started with `table`.
        table: bool,
    },
}

impl Format {
    /// Reads `--format`'s value (`table` or `pretty`, `json`, `table TEMPLATE` or `TEMPLATE`).
    pub fn parse(value: &str) -> Format {
        let unescape = |t: &str| t.trim_matches(' ').replace("\\t", "\t").replace("\\n", "\n");
        match value.trim() {
            "" | "table" | "pretty" => Format::Table,
            "json" => Format::Json,
            t => match t.strip_prefix("table") {
                Some(rest) => Format::Template { text: unescape(rest), table: true },
                None => Format::Template { text: unescape(t), table: false },
            },
        }
    }
}

/// Docker's template functions.
const FUNCTIONS: [(&str, Func); 8] = [
    ("json", json),
    ("split", split),
    ("join", join),
    ("title", title),
    ("lower", lower),
    ("upper", upper),
    ("pad", pad),
    ("truncate", truncate),
];

/// `items` through `template`: one output per item followed by a newline; for a `table`
/// template, first a header row (the template run on `headers`, each field's column title) and
/// the whole aligned as Docker aligns tables, columns at least `min_width` wide.
pub fn render(text: &str, table: bool, items: &[serde_json::Value], headers: &BTreeMap<&str, &str>, min_width: usize) -> Result<String> {
    let mut template = Template::default();
    template.add_funcs(&FUNCTIONS);
    template.parse(text).map_err(|e| anyhow!("invalid --format template {text:?}: {e}"))?;
    let run = |value: Value| template.render(&Context::from(value)).map_err(|e| anyhow!("--format template {text:?}: {e}"));
    let mut lines: Vec<String> = Vec::new();
    if table {
        let header: HashMap<String, Value> = headers.iter().map(|(k, v)| (k.to_string(), Value::from(v.to_string()))).collect();
        lines.push(run(Value::Object(header))?);
    }
    for item in items {
        lines.push(run(to_template_value(item))?);
    }
    if !table {
        return Ok(lines.into_iter().map(|l| l + "\n").collect());
    }
    let rows: Vec<Vec<String>> = lines.join("\n").split('\n').map(|l| l.split('\t').map(str::to_string).collect()).collect();
    Ok(crate::table::render(min_width, &rows))
}

/// A JSON value as the template engine's value.
fn to_template_value(value: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match value {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or_default()),
        },
        J::String(s) => Value::String(s.clone()),
        J::Array(items) => Value::Array(items.iter().map(to_template_value).collect()),
        J::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), to_template_value(v))).collect()),
    }
}

/// The template engine's value as JSON (objects' keys sorted, as Go's `json` sorts a map's).
fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::NoValue | Value::Nil | Value::Function(_) => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::String(s) => J::String(s.clone()),
        Value::Number(n) => n
            .as_i64()
            .map(J::from)
            .or_else(|| n.as_u64().map(J::from))
            .or_else(|| n.as_f64().and_then(serde_json::Number::from_f64).map(J::Number))
            .unwrap_or(J::Null),
        Value::Array(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Object(map) | Value::Map(map) => {
            let sorted: BTreeMap<&String, J> = map.iter().map(|(k, v)| (k, to_json(v))).collect();
            J::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
    }
}

fn string_arg(args: &[Value], i: usize, name: &str) -> Result<String, FuncError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(FuncError::AtLeastXArgs(name.into(), i + 1)),
    }
}

fn int_arg(args: &[Value], i: usize, name: &str) -> Result<usize, FuncError> {
    match args.get(i) {
        Some(Value::Number(n)) => n.as_u64().map(|n| n as usize).ok_or(FuncError::UnableToConvertFromValue),
        Some(_) => Err(FuncError::UnableToConvertFromValue),
        None => Err(FuncError::AtLeastXArgs(name.into(), i + 1)),
    }
}

/// `json`: the value as one line of JSON.
fn json(args: &[Value]) -> Result<Value, FuncError> {
    let value = args.first().ok_or_else(|| FuncError::ExactlyXArgs("json".into(), 1))?;
    Ok(Value::String(serde_json::to_string(&to_json(value)).map_err(|e| FuncError::Generic(e.to_string()))?))
}

/// `split`: a string cut at each separator.
fn split(args: &[Value]) -> Result<Value, FuncError> {
    let (text, separator) = (string_arg(args, 0, "split")?, string_arg(args, 1, "split")?);
    Ok(Value::Array(text.split(separator.as_str()).map(|p| Value::String(p.to_string())).collect()))
}

/// `join`: a list's items joined with a separator.
fn join(args: &[Value]) -> Result<Value, FuncError> {
    let Some(Value::Array(items)) = args.first() else { return Err(FuncError::UnableToConvertFromValue) };
    let separator = string_arg(args, 1, "join")?;
    Ok(Value::String(items.iter().map(Value::to_string).collect::<Vec<_>>().join(&separator)))
}

/// `title`: each word's first letter upper-cased (Go's `strings.Title`).
fn title(args: &[Value]) -> Result<Value, FuncError> {
    let text = string_arg(args, 0, "title")?;
    let mut out = String::new();
    let mut at_word_start = true;
    for c in text.chars() {
        if at_word_start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = !(c.is_alphanumeric() || c == '_');
    }
    Ok(Value::String(out))
}

/// `lower`.
fn lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(string_arg(args, 0, "lower")?.to_lowercase()))
}

/// `upper`.
fn upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(string_arg(args, 0, "upper")?.to_uppercase()))
}

/// `pad TEXT BEFORE AFTER`: spaces around the text.
fn pad(args: &[Value]) -> Result<Value, FuncError> {
    let text = string_arg(args, 0, "pad")?;
    let (before, after) = (int_arg(args, 1, "pad")?, int_arg(args, 2, "pad")?);
    Ok(Value::String(format!("{}{text}{}", " ".repeat(before), " ".repeat(after))))
}

/// `truncate TEXT N`: the first N characters.
fn truncate(args: &[Value]) -> Result<Value, FuncError> {
    let text = string_arg(args, 0, "truncate")?;
    let n = int_arg(args, 1, "truncate")?;
    Ok(Value::String(text.chars().take(n).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<serde_json::Value> {
        vec![
            serde_json::json!({"Name": "p-web-1", "Service": "web", "Status": "Up 2 seconds", "ExitCode": 0, "Labels": "a=1,b=2"}),
            serde_json::json!({"Name": "p-db-1", "Service": "db", "Status": "Exited (3) 1 second ago", "ExitCode": 3, "Labels": ""}),
        ]
    }

    fn headers() -> BTreeMap<&'static str, &'static str> {
        BTreeMap::from([("Name", "NAME"), ("Service", "SERVICE"), ("Status", "STATUS"), ("ExitCode", "EXIT CODE"), ("Labels", "LABELS")])
    }

    fn run(format: &str) -> String {
        let Format::Template { text, table } = Format::parse(format) else { panic!("{format} is a template") };
        render(&text, table, &items(), &headers(), crate::table::DOCKER_MIN_WIDTH).unwrap()
    }

    #[test]
    fn formats_read_as_docker_reads_them() {
        assert_eq!(Format::parse("table"), Format::Table);
        assert_eq!(Format::parse("json"), Format::Json);
        assert_eq!(Format::parse("table {{.Name}}\\t{{.Status}}"), Format::Template { text: "{{.Name}}\t{{.Status}}".into(), table: true });
        assert_eq!(Format::parse("{{.Name}}"), Format::Template { text: "{{.Name}}".into(), table: false });
    }

    #[test]
    fn templates_with_dockers_functions() {
        assert_eq!(run("{{.Name}}"), "p-web-1\np-db-1\n");
        assert_eq!(run("{{.Service}}:{{.ExitCode}}"), "web:0\ndb:3\n");
        assert_eq!(run("{{upper .Service}} {{lower \"AB\"}} {{title \"hello world\"}}"), "WEB ab Hello World\nDB ab Hello World\n");
        assert_eq!(run("{{join (split .Labels \",\") \";\"}}"), "a=1;b=2\n\n");
        assert_eq!(run("[{{pad .Service 1 2}}]{{truncate .Name 3}}"), "[ web  ]p-w\n[ db  ]p-d\n");
        assert_eq!(run("{{json .Service}}"), "\"web\"\n\"db\"\n");
        assert_eq!(run("{{println .Service}}"), "web\n\ndb\n\n");
        assert_eq!(
            run("{{json .}}").lines().next().unwrap(),
            r#"{"ExitCode":0,"Labels":"a=1,b=2","Name":"p-web-1","Service":"web","Status":"Up 2 seconds"}"#
        );
    }

    #[test]
    fn table_templates_get_a_header_and_aligned_columns() {
        assert_eq!(
            run("table {{.Name}}\\t{{.Status}}"),
            "NAME      STATUS\np-web-1   Up 2 seconds\np-db-1    Exited (3) 1 second ago\n"
        );
    }

    #[test]
    fn a_bad_template_is_one_clear_error() {
        let err = render("{{.Name", false, &items(), &headers(), crate::table::DOCKER_MIN_WIDTH).unwrap_err().to_string();
        assert!(err.starts_with("invalid --format template \"{{.Name\""), "{err}");
    }
}
