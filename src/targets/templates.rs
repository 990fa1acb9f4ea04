//! Templates built into the binary (`include_str!` of `templates/`) and how a minijinja
//! environment reads them: each is compiled the first time it renders, so a run pays only for
//! the templates its spec uses (a spec without DAGs compiles none of the DAG templates).

/// Embedded templates: name and source.
pub type Embedded = &'static [(&'static str, &'static str)];

/// Has `env` compile each template of `set` when it is first asked for.
pub fn load_on_first_use(env: &mut minijinja::Environment<'static>, set: Embedded) {
    env.set_loader(move |name| Ok(set.iter().find(|(n, _)| *n == name).map(|(_, source)| (*source).to_owned())));
}

/// Asserts that every template of `set` compiles in `env`: templates compile when first rendered,
/// so a test asks for each, and a broken one fails before a spec that renders it meets it.
#[cfg(test)]
pub fn assert_all_compile(env: &minijinja::Environment<'_>, set: Embedded) {
    for (name, _) in set {
        if let Err(e) = env.get_template(name) {
            panic!("{name}: {e:#}");
        }
    }
}
