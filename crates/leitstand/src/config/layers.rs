//! The layers of the configuration and where each key came from.

use std::path::{Path, PathBuf};

use super::{Origin, Problem};

/// Prefix of environment variables that set config keys:
/// `LEITSTAND__SERVER__LISTEN` sets `server.listen`.
pub const ENV_PREFIX: &str = "LEITSTAND__";

/// A key path segment.
#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// Deserialises `value` (found at `prefix`) strictly, recording a located
    /// problem on failure.
    pub fn deserialize<T: serde::de::DeserializeOwned>(
        &self,
        value: toml::Value,
        prefix: &str,
        problems: &mut Vec<Problem>,
    ) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => Some(v),
            Err(e) => {
                let inner = e.inner().to_string();
                // toml appends "in `path`" lines; the path is reported separately.
                let message = inner.lines().next().unwrap_or_default().to_string();
                let path = e.path().to_string();
                let path = match (prefix.is_empty(), path.as_str()) {
                    (_, ".") => prefix.to_string(),
                    (true, p) => p.to_string(),
                    (false, p) => format!("{prefix}.{p}"),
                };
                problems.push(self.locate(&path, message));
                None
            }
        }
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
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("a = 1\nbb = 2\n", 6), (2, 1));
        assert_eq!(line_col("a = 1\nbb = 2\n", 11), (2, 6));
    }
}
