//! The minijinja environment for the DAG templates (`templates/airflow/`, embedded).
//!
//! Airflow owns `{{ }}` and `{% %}` in the generated files, so the templates use `[[ ]]`, `[% %]`
//! and `[# #]`. Undefined values are errors, and the formatter refuses to print any value that
//! did not pass through one of the filters below, so nothing reaches the Python source by string
//! pasting:
//!
//! - `py`: any value as a Python literal ([`python::literal`]);
//! - `ident`: a checked Python identifier (variable names);
//! - `docstring`: text as a triple-quoted docstring.

use super::python;
use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};

/// The embedded templates: name and source.
const TEMPLATES: [(&str, &str); 3] = [
    ("macros.py.j2", include_str!("../../../templates/airflow/macros.py.j2")),
    ("pipeline_dag.py.j2", include_str!("../../../templates/airflow/pipeline_dag.py.j2")),
    ("drift_dag.py.j2", include_str!("../../../templates/airflow/drift_dag.py.j2")),
];

/// Builds the environment; it loads the templates as they are asked for.
pub fn environment() -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .block_delimiters("[%", "%]")
            .variable_delimiters("[[", "]]")
            .comment_delimiters("[#", "#]")
            .build()?,
    );
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    // A custom escape mode makes macro output count as already formatted; the formatter below is
    // the only thing that prints.
    env.set_auto_escape_callback(|_| AutoEscape::Custom("python"));
    env.set_formatter(|out, _state, value| {
        if value.is_safe() {
            out.write_str(value.as_str().unwrap_or_default()).map_err(Error::from)
        } else {
            Err(Error::new(ErrorKind::InvalidOperation, "print values through `py`, `ident` or `docstring`"))
        }
    });
    env.add_filter("py", py);
    env.add_filter("ident", ident);
    env.add_filter("docstring", |s: &str| Value::from_safe_string(python::docstring(s)));
    // A spec without drift monitoring never renders the drift DAG (and `airflow::templates`
    // makes this environment only for a DAG).
    crate::targets::templates::load_on_first_use(&mut env, &TEMPLATES);
    Ok(env)
}

fn py(value: &Value) -> Result<Value, Error> {
    let json = serde_json::to_value(value)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("not representable in Python: {e}")))?;
    Ok(Value::from_safe_string(python::literal(&json)))
}

fn ident(name: &str) -> Result<Value, Error> {
    if python::is_identifier(name) {
        Ok(Value::from_safe_string(name.to_owned()))
    } else {
        Err(Error::new(ErrorKind::InvalidOperation, format!("`{name}` is not a Python identifier")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let Ok(env) = environment() else { panic!("the environment must build") };
        crate::targets::templates::assert_all_compile(&env, &TEMPLATES);
        assert!(env.get_template("missing.py.j2").is_err());
    }

    #[test]
    fn refuses_unfiltered_values() {
        let Ok(env) = environment() else { panic!("templates must load") };
        let render = |src: &str| env.render_str(src, minijinja::context! { s => "a\"b" });
        assert!(render("x = [[ s ]]").is_err());
        assert!(render("x = [[ s | ident ]]").is_err());
        assert_eq!(render("x = [[ s | py ]]").ok().as_deref(), Some(r#"x = 'a"b'"#));
        assert_eq!(render("{{ ds }} [% if true %]y[% endif %]").ok().as_deref(), Some("{{ ds }} y"));
    }
}
