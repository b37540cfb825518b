//! Type names: the spelling PostgreSQL's `format_type()` prints for a type, whatever alias
//! was written, so that a required type and the catalog's compare as strings.

/// Normalises a type name to the spelling PostgreSQL's `format_type()` prints for a column of
/// that type: `varchar(64)` → `character varying(64)`, `int4` → `integer`,
/// `timestamptz(3)` → `timestamp(3) with time zone`, `decimal(10, 2)` → `numeric(10,2)`,
/// `int[]`/`_int4`/`int array` → `integer[]`, and so on. Unknown names (enums, domains,
/// extension types) are only lower-cased (outside double quotes) and have their whitespace
/// collapsed. Idempotent, and the identity on what `format_type()` prints.
pub fn normalize_type(t: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut typmod: Option<String> = None;
    let mut is_array = false;

    let mut chars = t.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            chars.next();
            let mut depth = 1;
            let mut inner = String::new();
            for c in chars.by_ref() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if !c.is_whitespace() {
                    inner.push(c.to_ascii_lowercase());
                }
            }
            // Only the first modifier counts; PostgreSQL has no type with two.
            typmod.get_or_insert(inner);
        } else if c == '[' {
            // Array bounds are not enforced and format_type never prints them.
            for c in chars.by_ref() {
                if c == ']' {
                    break;
                }
            }
            is_array = true;
        } else if c == ')' || c == ']' {
            chars.next();
        } else {
            let mut word = String::new();
            let mut in_quotes = false;
            while let Some(&c) = chars.peek() {
                if !in_quotes && (c.is_whitespace() || c == '(' || c == '[') {
                    break;
                }
                if c == '"' {
                    in_quotes = !in_quotes;
                }
                word.push(if in_quotes { c } else { c.to_ascii_lowercase() });
                chars.next();
            }
            words.push(word);
        }
    }

    if words.len() > 1 && words.last().is_some_and(|w| w == "array") {
        words.pop();
        is_array = true;
    }
    if let Some(first) = words.first_mut()
        && let Some(unqualified) = first.strip_prefix("pg_catalog.")
    {
        *first = unqualified.to_string();
    }
    // The internal name of an array type: `_int4` is `integer[]`.
    if words.len() == 1
        && typmod.is_none()
        && let Some(elem) = words[0].strip_prefix('_')
        && INTERNAL_ARRAY_ELEMENTS.contains(&elem)
    {
        words[0] = elem.to_string();
        is_array = true;
    }

    let name = words.join(" ");
    let m = typmod
        .as_deref()
        .map(|p| format!("({p})"))
        .unwrap_or_default();
    let base = match name.as_str() {
        "int" | "int4" | "integer" | "serial" | "serial4" => format!("integer{m}"),
        "int2" | "smallint" | "smallserial" | "serial2" => format!("smallint{m}"),
        "int8" | "bigint" | "bigserial" | "serial8" => format!("bigint{m}"),
        "bool" | "boolean" => format!("boolean{m}"),
        "float4" | "real" => format!("real{m}"),
        "float8" | "double precision" => format!("double precision{m}"),
        "float" => match typmod.as_deref().map(str::parse::<u32>) {
            None => "double precision".into(),
            Some(Ok(1..=24)) => "real".into(),
            Some(Ok(25..=53)) => "double precision".into(),
            // Out of range: PostgreSQL rejects it; keep it recognisably wrong.
            Some(_) => format!("float{m}"),
        },
        "decimal" | "dec" | "numeric" => match typmod.as_deref() {
            // numeric(p) is numeric(p,0), and format_type says so.
            Some(p) if !p.contains(',') => format!("numeric({p},0)"),
            _ => format!("numeric{m}"),
        },
        "varchar"
        | "character varying"
        | "char varying"
        | "national character varying"
        | "national char varying"
        | "nchar varying" => format!("character varying{m}"),
        // A column declared `char` has length 1; `bpchar` alone has no length.
        "char" | "character" | "national character" | "national char" | "nchar" => {
            format!("character({})", typmod.as_deref().unwrap_or("1"))
        }
        "bpchar" if typmod.is_some() => format!("character{m}"),
        "bit" => format!("bit({})", typmod.as_deref().unwrap_or("1")),
        "varbit" | "bit varying" => format!("bit varying{m}"),
        "timestamp" | "timestamp without time zone" => format!("timestamp{m} without time zone"),
        "timestamptz" | "timestamp with time zone" => format!("timestamp{m} with time zone"),
        "time" | "time without time zone" => format!("time{m} without time zone"),
        "timetz" | "time with time zone" => format!("time{m} with time zone"),
        // Everything else, `interval day to second(3)` included, prints as written.
        _ => format!("{name}{m}"),
    };
    if is_array { format!("{base}[]") } else { base }
}

/// Element types whose internal array name (`_int4`) [`normalize_type`] understands.
const INTERNAL_ARRAY_ELEMENTS: &[&str] = &[
    "int2",
    "int4",
    "int8",
    "float4",
    "float8",
    "bool",
    "numeric",
    "varchar",
    "bpchar",
    "text",
    "bytea",
    "date",
    "time",
    "timetz",
    "timestamp",
    "timestamptz",
    "interval",
    "uuid",
    "json",
    "jsonb",
    "bit",
    "varbit",
    "inet",
    "cidr",
    "macaddr",
    "oid",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every alias against the exact spelling PostgreSQL 15's format_type() printed for a
    /// column declared with it.
    #[test]
    fn normalize_type_matches_format_type() {
        let cases = [
            ("varchar(64)", "character varying(64)"),
            ("VARCHAR (64)", "character varying(64)"),
            ("varchar", "character varying"),
            ("character varying(64)", "character varying(64)"),
            ("char varying(3)", "character varying(3)"),
            ("char(3)", "character(3)"),
            ("character(5)", "character(5)"),
            ("char", "character(1)"),
            ("character", "character(1)"),
            ("bpchar", "bpchar"),
            ("bpchar(4)", "character(4)"),
            ("int", "integer"),
            ("int4", "integer"),
            ("integer", "integer"),
            ("int2", "smallint"),
            ("smallint", "smallint"),
            ("int8", "bigint"),
            ("bigint", "bigint"),
            ("serial", "integer"),
            ("serial4", "integer"),
            ("bigserial", "bigint"),
            ("serial8", "bigint"),
            ("smallserial", "smallint"),
            ("serial2", "smallint"),
            ("float4", "real"),
            ("real", "real"),
            ("float8", "double precision"),
            ("float", "double precision"),
            ("double precision", "double precision"),
            ("DOUBLE\tPRECISION", "double precision"),
            ("float(1)", "real"),
            ("float(24)", "real"),
            ("float(25)", "double precision"),
            ("float(53)", "double precision"),
            ("bool", "boolean"),
            ("boolean", "boolean"),
            ("timestamp", "timestamp without time zone"),
            ("timestamp without time zone", "timestamp without time zone"),
            ("timestamptz", "timestamp with time zone"),
            ("Timestamp With Time Zone", "timestamp with time zone"),
            ("timestamp(3)", "timestamp(3) without time zone"),
            (
                "timestamp(0) without time zone",
                "timestamp(0) without time zone",
            ),
            ("timestamptz(6)", "timestamp(6) with time zone"),
            (
                "timestamp (6) with time zone",
                "timestamp(6) with time zone",
            ),
            ("time", "time without time zone"),
            ("timetz", "time with time zone"),
            ("time(2) with time zone", "time(2) with time zone"),
            ("decimal", "numeric"),
            ("numeric", "numeric"),
            ("decimal(10,2)", "numeric(10,2)"),
            ("numeric(10, 2)", "numeric(10,2)"),
            ("numeric(10)", "numeric(10,0)"),
            ("dec(5)", "numeric(5,0)"),
            ("bit", "bit(1)"),
            ("bit(3)", "bit(3)"),
            ("varbit", "bit varying"),
            ("varbit(5)", "bit varying(5)"),
            ("bit varying(4)", "bit varying(4)"),
            ("int[]", "integer[]"),
            ("int []", "integer[]"),
            ("int4[][]", "integer[]"),
            ("integer[3]", "integer[]"),
            ("int array", "integer[]"),
            ("_int4", "integer[]"),
            ("_varchar", "character varying[]"),
            ("varchar(10)[]", "character varying(10)[]"),
            ("text[]", "text[]"),
            ("interval", "interval"),
            ("interval(2)", "interval(2)"),
            ("interval day to second(3)", "interval day to second(3)"),
            ("\"char\"", "\"char\""),
            ("jsonb", "jsonb"),
            ("UUID", "uuid"),
            ("pg_catalog.int4", "integer"),
            ("public.\"MyEnum\"", "public.\"MyEnum\""),
            ("  text  ", "text"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_type(input), want, "normalize_type({input:?})");
            // Idempotent, hence the identity on format_type's output.
            assert_eq!(normalize_type(want), want, "normalize_type({want:?})");
        }
    }
}
