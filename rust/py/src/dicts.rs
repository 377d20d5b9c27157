//! Plain dicts out: a core stats struct becomes a dict keyed by its field names.

/// `set_fields!(d, s; a, b, c)` sets `d["a"] = s.a`, `d["b"] = s.b`, ... (each key the field's
/// name, each value borrowed), returning early on an error: the caller returns `PyResult`.
macro_rules! set_fields {
    ($d:expr, $s:expr; $($field:ident),* $(,)?) => {
        $($d.set_item(stringify!($field), &$s.$field)?;)*
    };
}
pub(crate) use set_fields;
