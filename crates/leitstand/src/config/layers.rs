//! The layers of the configuration and where each key came from.

use std::path::{Path, PathBuf};

use super::{Origin, Problem};

/// Prefix of environment variables that set config keys:
/// `LEITSTAND__SERVER__LISTEN` sets `server.listen`.
pub const ENV_PREFIX: &str = "LEITSTAND__";

/// A key path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Splits `a.b[2].c` into segments.
fn parse_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                out.push(Seg::Key(rest[..open].to_string()));
            }
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let close = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(i) = stripped[..close].parse() {
                    out.push(Seg::Index(i));
                }
                rest = stripped.get(close + 1..).unwrap_or("");
            }
        } else {
            out.push(Seg::Key(rest.to_string()));
        }
    }
    out
}

/// Recursively merges `overlay` into `base`: tables merge key by key, any
/// other value (arrays included) replaces the old one.
pub fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(old)), toml::Value::Table(new)) => merge(old, new),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

struct FileLayer {
    path: PathBuf,
    text: String,
    doc: toml_edit::Document<String>,
    table: toml::Table,
}

struct EnvLayer {
    var: String,
    path: Vec<Seg>,
    table: toml::Table,
}

/// Defaults, the file and the environment, kept apart so errors can be
/// traced to their source.
pub struct Layers {
    defaults: toml::Table,
    file: Option<FileLayer>,
    env: Vec<EnvLayer>,
}

impl Layers {
    /// Parses the file text and the `LEITSTAND__` variables of `env`.
    /// Syntax errors come back with their position.
    pub fn new(
        defaults: toml::Table,
        file: Option<&Path>,
        text: Option<&str>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let file = match text {
            Some(text) => {
                let path = file.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(super::DEFAULT_FILE));
                let parsed = toml::from_str::<toml::Table>(text)
                    .map_err(|e| (e.span(), e.message().trim().to_string()))
                    .and_then(|table| {
                        let doc = toml_edit::Document::parse(text.to_string())
                            .map_err(|e| (e.span(), e.message().trim().to_string()))?;
                        Ok((table, doc))
                    });
                match parsed {
                    Ok((table, doc)) => Some(FileLayer { path, text: text.to_string(), doc, table }),
                    Err((span, message)) => {
                        let (line, column) = line_col(text, span.map_or(0, |s| s.start));
                        problems.push(Problem {
                            origin: Origin::File { path, line, column },
                            key: String::new(),
                            message: format!("TOML syntax: {message}"),
                        });
                        None
                    }
                }
            }
            None => None,
        };
        let mut env_layers: Vec<EnvLayer> = env
            .into_iter()
            .filter_map(|(var, value)| {
                let keys = var.strip_prefix(ENV_PREFIX)?.to_string();
                Some((var, keys, value))
            })
            .filter_map(|(var, keys, value)| {
                let segs: Vec<String> = keys.split("__").map(str::to_string).collect();
                if segs.iter().any(String::is_empty) {
                    problems.push(Problem {
                        origin: Origin::Env(var),
                        key: String::new(),
                        message: "empty key segment; write LEITSTAND__SECTION__KEY".into(),
                    });
                    return None;
                }
                Some((var, segs, value))
            })
            .map(|(var, segs, value)| {
                let (path, table) = env_table(&defaults, &segs, &value);
                EnvLayer { var, path, table }
            })
            .collect();
        env_layers.sort_by(|a, b| a.var.cmp(&b.var));
        if problems.is_empty() { Ok(Self { defaults, file, env: env_layers }) } else { Err(problems) }
    }

    /// Defaults, overlaid by the file, overlaid by the environment.
    pub fn merged(&self) -> toml::Table {
        let mut merged = self.defaults.clone();
        if let Some(file) = &self.file {
            merge(&mut merged, file.table.clone());
        }
        for env in &self.env {
            merge(&mut merged, env.table.clone());
        }
        merged
    }

    /// Deserialises `value` (found at `prefix`) strictly, recording every
    /// problem, located. serde stops at the first one, so after each the
    /// value is patched where it went wrong and deserialised again: an
    /// unknown key is dropped, an array element with a problem is taken
    /// out (later problems keep their original index), any other bad value
    /// gives way to its default. The result is `None` if an element had to
    /// be taken out (checks on the rest would speak of shifted positions);
    /// otherwise it is the patched value, so that the semantic checks can
    /// report their problems in the same run. Callers use a value only when
    /// no problem was recorded.
    pub fn deserialize<T: serde::de::DeserializeOwned>(
        &self,
        value: toml::Value,
        prefix: &str,
        problems: &mut Vec<Problem>,
    ) -> Option<T> {
        let mut value = value;
        let base = parse_path(prefix);
        // (path of the array, index the element had in what was written)
        let mut taken_out: Vec<(Vec<Seg>, usize)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PROBLEMS_PER_SECTION {
            let e = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
                Ok(v) => return taken_out.is_empty().then_some(v),
                Err(e) => e,
            };
            let inner = e.inner().to_string();
            // toml appends "in `path`" lines; the path is reported separately.
            let message = inner.lines().next().unwrap_or_default().to_string();
            let at = parse_path(&e.path().to_string());
            let written = original_indices(&at, &taken_out);
            let full: Vec<Seg> = base.iter().cloned().chain(written).collect();
            if !seen.insert((full.clone(), message.clone())) {
                return None; // no progress
            }
            problems.push(self.locate(&render_path(&full), message.clone()));
            if !self.patch(&mut value, &base, &at, &message, &mut taken_out) {
                return None;
            }
        }
        None
    }

    /// Patches `value` past the problem at `at`; false if it cannot go on.
    fn patch(
        &self,
        value: &mut toml::Value,
        base: &[Seg],
        at: &[Seg],
        message: &str,
        taken_out: &mut Vec<(Vec<Seg>, usize)>,
    ) -> bool {
        let field = |what: &str| message.strip_prefix(what).and_then(|rest| rest.split('`').nth(1)).map(str::to_string);
        if let Some(unknown) = field("unknown field ") {
            // The path ends with the unknown key itself, or names its table.
            let table_path = if at.last() == Some(&Seg::Key(unknown.clone())) { &at[..at.len() - 1] } else { at };
            return node_mut(value, table_path)
                .and_then(toml::Value::as_table_mut)
                .is_some_and(|t| t.remove(&unknown).is_some());
        }
        if let Some(i) = at.iter().rposition(|s| matches!(s, Seg::Index(_))) {
            let Seg::Index(index) = at[i] else { return false };
            let array_path = at[..i].to_vec();
            let Some(array) = node_mut(value, &array_path).and_then(toml::Value::as_array_mut) else { return false };
            if index >= array.len() {
                return false;
            }
            array.remove(index);
            let written = original_indices(&at[..=i], taken_out);
            if let Some(Seg::Index(original)) = written.last() {
                taken_out.push((array_path, *original));
            }
            return true;
        }
        let target: Vec<Seg> = match field("missing field ") {
            Some(missing) => at.iter().cloned().chain([Seg::Key(missing)]).collect(),
            None => at.to_vec(),
        };
        let Some((last, parent)) = target.split_last() else { return false };
        let Seg::Key(key) = last else { return false };
        let full: Vec<Seg> = base.iter().chain(target.iter()).cloned().collect();
        let default = node(&self.defaults, &full).cloned();
        let Some(table) = node_mut(value, parent).and_then(toml::Value::as_table_mut) else { return false };
        match default {
            Some(default) => {
                table.insert(key.clone(), default);
                true
            }
            None => table.remove(key).is_some(),
        }
    }

    /// Every leaf key the file or an environment variable sets (an array is
    /// one leaf), dotted, without repeats.
    pub fn user_keys(&self) -> Vec<String> {
        fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
            for (key, value) in table {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                match value {
                    toml::Value::Table(inner) if !inner.is_empty() => walk(&path, inner, out),
                    _ => out.push(path),
                }
            }
        }
        let mut out = Vec::new();
        let tables = self.file.iter().map(|f| &f.table).chain(self.env.iter().map(|e| &e.table));
        for table in tables {
            walk("", table, &mut out);
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|k| seen.insert(k.clone()));
        out
    }

    /// A problem at `path`, attributed to the environment variable that set
    /// it, or to its position in the file.
    pub fn locate(&self, path: &str, message: String) -> Problem {
        let segs = parse_path(path);
        if let Some(env) = self.env.iter().rev().find(|e| segs.starts_with(&e.path) || e.path.starts_with(&segs)) {
            return Problem { origin: Origin::Env(env.var.clone()), key: path.to_string(), message };
        }
        if let Some((file, offset)) = self.file.as_ref().and_then(|f| Some((f, locate_in(&f.doc, &segs)?))) {
            let (line, column) = line_col(&file.text, offset);
            return Problem {
                origin: Origin::File { path: file.path.clone(), line, column },
                key: path.to_string(),
                message,
            };
        }
        Problem { origin: Origin::Default, key: path.to_string(), message }
    }
}

/// Most problems reported for one section before giving up on it.
const MAX_PROBLEMS_PER_SECTION: usize = 32;

/// `at` (a path in a value some array elements were taken out of) with the
/// indices those elements had as written.
fn original_indices(at: &[Seg], taken_out: &[(Vec<Seg>, usize)]) -> Vec<Seg> {
    let mut out: Vec<Seg> = Vec::with_capacity(at.len());
    for seg in at {
        match seg {
            Seg::Index(i) => {
                let mut removed: Vec<usize> =
                    taken_out.iter().filter(|(array, _)| *array == out).map(|(_, index)| *index).collect();
                removed.sort_unstable();
                let mut original = *i;
                for r in removed {
                    if r <= original {
                        original += 1;
                    }
                }
                out.push(Seg::Index(original));
            }
            key => out.push(key.clone()),
        }
    }
    out
}

/// `a.b[2].c` again.
fn render_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The node at `path` in `table`.
fn node<'a>(table: &'a toml::Table, path: &[Seg]) -> Option<&'a toml::Value> {
    let (Seg::Key(first), rest) = path.split_first()? else { return None };
    let mut value = table.get(first)?;
    for seg in rest {
        value = match seg {
            Seg::Key(k) => value.as_table()?.get(k)?,
            Seg::Index(i) => value.as_array()?.get(*i)?,
        };
    }
    Some(value)
}

/// The node at `path` in `value`, to change.
fn node_mut<'a>(value: &'a mut toml::Value, path: &[Seg]) -> Option<&'a mut toml::Value> {
    let mut value = value;
    for seg in path {
        value = match seg {
            Seg::Key(k) => value.as_table_mut()?.get_mut(k)?,
            Seg::Index(i) => value.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(value)
}

/// Builds the table an environment variable contributes. Key segments match
/// existing keys case-insensitively (`SEV-1`), else they are lower-cased. The
/// value is read as a TOML value (`60`, `true`, `["a"]`), else as a string.
fn env_table(defaults: &toml::Table, segs: &[String], raw: &str) -> (Vec<Seg>, toml::Table) {
    let mut keys = Vec::new();
    let mut level = Some(defaults);
    for seg in segs {
        let key = level
            .and_then(|t| t.keys().find(|k| k.eq_ignore_ascii_case(seg)).cloned())
            .unwrap_or_else(|| seg.to_ascii_lowercase());
        level = level.and_then(|t| t.get(&key)).and_then(toml::Value::as_table);
        keys.push(key);
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let mut value = value;
    for key in keys.iter().rev() {
        let mut table = toml::Table::new();
        table.insert(key.clone(), value);
        value = toml::Value::Table(table);
    }
    let table = match value {
        toml::Value::Table(t) => t,
        _ => toml::Table::new(),
    };
    (keys.into_iter().map(Seg::Key).collect(), table)
}

/// Byte offset of the deepest part of `path` written in the document.
fn locate_in(doc: &toml_edit::Document<String>, path: &[Seg]) -> Option<usize> {
    enum Node<'a> {
        Item(&'a toml_edit::Item),
        Table(&'a toml_edit::Table),
    }
    let mut best = None;
    let mut node = Node::Item(doc.as_item());
    for seg in path {
        node = match (seg, node) {
            (Seg::Key(k), node) => {
                let table: Option<&dyn toml_edit::TableLike> = match node {
                    Node::Item(item) => item.as_table_like(),
                    Node::Table(table) => Some(table),
                };
                let Some((key, value)) = table.and_then(|t| t.get_key_value(k)) else {
                    break;
                };
                best = key.span().map(|s| s.start).or(best);
                Node::Item(value)
            }
            (Seg::Index(i), Node::Item(item)) => {
                if let Some(table) = item.as_array_of_tables().and_then(|a| a.get(*i)) {
                    best = table.span().map(|s| s.start).or(best);
                    Node::Table(table)
                } else {
                    best = item.as_array().and_then(|a| a.get(*i)).and_then(|v| v.span()).map(|s| s.start).or(best);
                    break;
                }
            }
            (Seg::Index(_), Node::Table(_)) => break,
        };
    }
    best
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_with_indices() {
        assert_eq!(
            parse_path("escalation.levels[2].ack_deadline"),
            vec![
                Seg::Key("escalation".into()),
                Seg::Key("levels".into()),
                Seg::Index(2),
                Seg::Key("ack_deadline".into())
            ]
        );
    }

    #[test]
    fn taken_out_elements_keep_later_indices_as_written() {
        let levels = vec![Seg::Key("levels".into())];
        let taken = vec![(levels.clone(), 0), (levels.clone(), 2)];
        let at = parse_path("levels[0].name");
        assert_eq!(render_path(&original_indices(&at, &taken)), "levels[1].name");
        assert_eq!(render_path(&original_indices(&parse_path("levels[1]"), &taken)), "levels[3]");
        assert_eq!(render_path(&original_indices(&parse_path("other[0]"), &taken)), "other[0]");
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("a = 1\nbb = 2\n", 6), (2, 1));
        assert_eq!(line_col("a = 1\nbb = 2\n", 11), (2, 6));
    }
}
