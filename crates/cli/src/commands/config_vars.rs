//! `config --variables` and `config --environment`: the variables a project's files use, and
//! the environment they are interpolated from, as compose prints them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One variable the files use, compose-go's template.Variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// The value after `:-` or `-`.
    pub default_value: String,
    /// The value after `:+` or `+`.
    pub presence_value: String,
    /// Whether it is written `:?` or `?` (an error when unset).
    pub required: bool,
}

/// The variables the project's files use, from the merged model before interpolation; when
/// that cannot be built (xcompose expands short syntaxes while merging, and `"${PORT}:80"`
/// is no port until interpolated), from each compose file as written (the files of `include`
/// and `extends` left out).
pub fn variables(opts: &xcompose_loader::ProjectOptions) -> anyhow::Result<BTreeMap<String, Variable>> {
    if let Ok(model) = xcompose_loader::load_untyped(opts) {
        return Ok(extract(&model));
    }
    let (_, files) = xcompose_loader::project_files(opts)?;
    let mut found = BTreeMap::new();
    for file in files {
        found.extend(extract(&xcompose_loader::pipeline::parse_file(&file)?.value));
    }
    Ok(found)
}

/// The variables used in `model` (the merged files, uninterpolated), by name, as compose-go's
/// ExtractVariables finds them in strings. Compose looks into maps, and into the strings of
/// lists only; xcompose's model has short syntaxes already in their long forms (maps in lists),
/// so it looks into every map, wherever it is, to find what compose finds in the short forms.
pub fn extract(model: &Value) -> BTreeMap<String, Variable> {
    let mut found = BTreeMap::new();
    collect(model, &mut found);
    found
}

fn collect(value: &Value, found: &mut BTreeMap<String, Variable>) {
    match value {
        Value::String(s) => {
            for variable in in_string(s) {
                found.insert(variable.name.clone(), variable);
            }
        }
        Value::Object(map) => map.values().for_each(|v| collect(v, found)),
        Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
        _ => {}
    }
}

/// The variables of one string: `$NAME`, and `${NAME}` with what follows the name up to its
/// closing brace (nested `${...}` included, as compose reads `${A:-${B}}`'s default); `$$` is
/// a literal dollar.
fn in_string(s: &str) -> Vec<Variable> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            rest = after;
        } else if let Some(inner) = rest.strip_prefix('{') {
            let Some(close) = closing_brace(inner) else { break };
            let text = &inner[..close];
            rest = &inner[close + 1..];
            let end = text.find(|c: char| !is_name_char(c)).unwrap_or(text.len());
            let (name, modifier) = text.split_at(end);
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            let after = |prefix: &str| modifier.strip_prefix(prefix).map(str::to_string);
            found.push(Variable {
                name: name.to_string(),
                default_value: after(":-").or_else(|| after("-")).unwrap_or_default(),
                presence_value: after(":+").or_else(|| after("+")).unwrap_or_default(),
                required: modifier.starts_with(":?") || modifier.starts_with('?'),
            });
        } else {
            let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
            let name = &rest[..end];
            if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
                found.push(Variable { name: name.to_string(), default_value: String::new(), presence_value: String::new(), required: false });
            }
            rest = &rest[end..];
        }
    }
    found
}

/// Where the brace closing `${` is in `text` (what follows the `{`), nested braces skipped.
fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The table compose prints by default (rows sorted by name; compose's come in Go's random map
/// order).
pub fn table(variables: &BTreeMap<String, Variable>) -> String {
    let mut rows = vec![vec!["NAME".to_string(), "REQUIRED".into(), "DEFAULT VALUE".into(), "ALTERNATE VALUE".into()]];
    rows.extend(variables.values().map(|v| vec![v.name.clone(), v.required.to_string(), v.default_value.clone(), v.presence_value.clone()]));
    crate::table::render(crate::table::COMPOSE_MIN_WIDTH, &rows)
}

/// `--format json`: Go's json.MarshalIndent with four spaces, then an empty line (compose's
/// formatter.Print adds a line break to the JSON's own).
pub fn json(variables: &BTreeMap<String, Variable>) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b"    "));
    variables.serialize(&mut serializer)?;
    Ok(String::from_utf8_lossy(&out).into_owned() + "\n\n")
}

/// `--format yaml`: yaml.v3's output of the map, its keys lowercased field names, four spaces
/// deep (compose's encoder indent); `{}` when there is none.
pub fn yaml(variables: &BTreeMap<String, Variable>) -> String {
    if variables.is_empty() {
        return "{}\n".into();
    }
    let value = |s: &str| crate::compose_yaml::string_value(s, 8);
    variables
        .values()
        .map(|v| {
            format!(
                "{}:\n    name: {}\n    defaultvalue: {}\n    presencevalue: {}\n    required: {}\n",
                value(&v.name),
                value(&v.name),
                value(&v.default_value),
                value(&v.presence_value),
                v.required
            )
        })
        .collect()
}

/// `--environment`: every variable interpolation sees, `NAME=value`, sorted.
pub fn environment(variables: &BTreeMap<String, String>) -> String {
    variables.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Variable {
        in_string(s).remove(0)
    }

    #[test]
    fn forms_of_a_variable() {
        let v = |name: &str, default: &str, presence: &str, required| Variable { name: name.into(), default_value: default.into(), presence_value: presence.into(), required };
        assert_eq!(one("x:${TAG:-latest}"), v("TAG", "latest", "", false));
        assert_eq!(one("${D-d}"), v("D", "d", "", false));
        assert_eq!(one("${REQ:?need it}"), v("REQ", "", "", true));
        assert_eq!(one("${P:+yes}"), v("P", "", "yes", false));
        assert_eq!(one("$$ESC $NAMED"), v("NAMED", "", "", false));
        assert!(in_string("$$only").is_empty());
        assert_eq!(one("${NOPE:-${SET:-x}}"), v("NOPE", "${SET:-x}", "", false));
        let two = in_string("${IMAGE:-busybox}:${TAG-latest}");
        assert_eq!(two, [v("IMAGE", "busybox", "", false), v("TAG", "latest", "", false)]);
    }

    #[test]
    fn outputs_as_compose_prints_them() {
        let vars = extract(&serde_json::json!({"services": {"a": {"image": "x:${TAG:-80}", "command": ["${REQ?x}"]}}}));
        assert_eq!(vars.keys().collect::<Vec<_>>(), ["REQ", "TAG"]);
        assert_eq!(table(&vars), format!("{:<20}{:<20}{:<20}ALTERNATE VALUE\n{:<20}{:<20}{:<20}\n{:<20}{:<20}{:<20}\n", "NAME", "REQUIRED", "DEFAULT VALUE", "REQ", "true", "", "TAG", "false", "80"));
        assert!(yaml(&vars).ends_with("TAG:\n    name: TAG\n    defaultvalue: \"80\"\n    presencevalue: \"\"\n    required: false\n"), "{}", yaml(&vars));
        assert_eq!(yaml(&BTreeMap::new()), "{}\n");
        assert!(json(&vars).unwrap().starts_with("{\n    \"REQ\": {\n        \"Name\": \"REQ\",\n"));
    }
}
