//! The SPL abstract syntax tree.
//!
//! Produced by [`crate::parse`] from macro-expanded SPL text; consumed by the engine's planner.
//! Every command keeps its [`Span`] so that a planning or execution error can point at it.

/// Byte range in the (macro-expanded) search text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

/// A whole search: commands joined by `|`.
///
/// A search that does not start with `|` begins with an implicit `search` command over raw
/// events (`sysmon EventCode=1 ...`); one that starts with `| tstats` begins with a generating
/// command.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    pub commands: Vec<Command>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// The command name as written, lowercased (`tstats`, `search`, ...).
    pub name: String,
    pub span: Span,
    pub kind: CommandKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CommandKind {
    /// `search <expr>` or the implicit leading search. `SearchExpr::All` for `search *`.
    Search(SearchExpr),
    Tstats(Tstats),
    Where(Expr),
    /// `eval a=expr, b=expr`: assignments in order; later ones see earlier results.
    Eval(Vec<(String, Expr)>),
    Stats(Stats),
    Eventstats(Stats),
    /// `rename a AS b, c* AS d*`; wildcards allowed on both sides.
    Rename(Vec<(String, String)>),
    /// `table a b c*`: field names, wildcards allowed.
    Table(Vec<String>),
    /// `fields [+|-] a, b*`.
    Fields {
        remove: bool,
        fields: Vec<String>,
    },
    Dedup(Dedup),
    Sort(Sort),
    /// `head [N]` (default 10).
    Head(u64),
    Convert(Convert),
    Join(Join),
    Lookup(Lookup),
    Inputlookup(Inputlookup),
    Rex(Rex),
    Regex(RegexCmd),
    Fillnull(Fillnull),
    /// `bin`/`bucket`.
    Bin(Bin),
    /// `mvexpand field [limit=N]`.
    Mvexpand {
        field: String,
        limit: Option<u64>,
    },
    /// `makemv [delim="x"] field`.
    Makemv {
        delim: String,
        field: String,
    },
    /// `replace "a*" with "b*", ... [in f1, f2]`: whole-value replacement with wildcards; no
    /// field list means every field.
    Replace {
        pairs: Vec<(String, String)>,
        fields: Vec<String>,
    },
    /// `spath [input=f] [output=o] [path=p]`: fields from the JSON or XML in `input`
    /// (default `_raw`), named by their paths.
    Spath {
        input: Option<String>,
        output: Option<String>,
        path: Option<String>,
    },
    /// `xmlkv [field]`: extracts `<name>value</name>` pairs from a field (default `_raw`).
    Xmlkv {
        field: Option<String>,
    },
    /// `foreach f1 f2* [ template ]`: runs the template (eval commands) once per matching field,
    /// with `<<FIELD>>` replaced by the field name and `<<MATCHSTR>>` by what `*` matched.
    Foreach(Foreach),
    /// `transaction [fields] [options]`: groups events into transactions.
    Transaction(Transaction),
    /// `top`/`rare [options] fields [by fields]`: the most (least) common values with count
    /// and percent.
    TopRare(TopRare),
    /// `timechart [options] agg... [by field [options]]`: aggregations per time bucket, one
    /// column per value of the split-by field.
    Timechart(Timechart),
}

/// `top`/`rare`. Options keep Splunk's defaults when absent.
#[derive(Clone, Debug, PartialEq)]
pub struct TopRare {
    /// `rare`: least common first.
    pub rare: bool,
    pub fields: Vec<String>,
    pub by: Vec<String>,
    /// `limit=` (default 10; 0 means every value).
    pub limit: u64,
    pub countfield: String,
    pub percentfield: String,
    pub showcount: bool,
    pub showperc: bool,
    /// `useother=` (default false): one more row counting the values past the limit.
    pub useother: bool,
    pub otherstr: String,
}

impl TopRare {
    pub fn new(rare: bool) -> TopRare {
        TopRare {
            rare,
            fields: Vec::new(),
            by: Vec::new(),
            limit: 10,
            countfield: "count".into(),
            percentfield: "percent".into(),
            showcount: true,
            showperc: true,
            useother: false,
            otherstr: "other".into(),
        }
    }
}

/// `timechart`. Options keep Splunk's defaults when absent.
#[derive(Clone, Debug, PartialEq)]
pub struct Timechart {
    /// `span=` as written (`1h`); none: at most `bins` buckets over the data's time range.
    pub span: Option<String>,
    /// `bins=` (default 100).
    pub bins: u64,
    /// `limit=` (default 10; 0 means every series).
    pub limit: u64,
    /// `useother=` (default true): series past the limit are summed into `otherstr`.
    pub useother: bool,
    pub otherstr: String,
    /// `usenull=` (default true): rows without the split-by field form the `nullstr` series.
    pub usenull: bool,
    pub nullstr: String,
    /// `cont=` (default true): empty buckets between the first and last are kept.
    pub cont: bool,
    pub aggregations: Vec<Aggregation>,
    pub by: Option<String>,
}

impl Default for Timechart {
    fn default() -> Self {
        Timechart {
            span: None,
            bins: 100,
            limit: 10,
            useother: true,
            otherstr: "OTHER".into(),
            usenull: true,
            nullstr: "NULL".into(),
            cont: true,
            aggregations: Vec::new(),
            by: None,
        }
    }
}

/// `transaction [field-list] [maxspan=t] [maxpause=t] [maxevents=n] [startswith=f]
/// [endswith=f] [connected=b] [keepevicted=b] [mvlist=b|fields] [mvraw=b] [delim=s]`.
///
/// Options keep Splunk's defaults when absent; the printer omits options at their default.
#[derive(Clone, Debug, PartialEq)]
pub struct Transaction {
    /// Fields whose values tie events together (may be empty: one stream of events).
    pub fields: Vec<String>,
    /// `maxspan=` as written (`30s`, `240m`, `-1`); none means no limit.
    pub maxspan: Option<String>,
    /// `maxpause=` as written; none means no limit.
    pub maxpause: Option<String>,
    /// `maxevents=` (Splunk's default 1000 when none; negative means no limit).
    pub maxevents: Option<i64>,
    pub startswith: Option<TxnFilter>,
    pub endswith: Option<TxnFilter>,
    /// Default true.
    pub connected: bool,
    /// Default false.
    pub keepevicted: bool,
    pub mvlist: MvList,
    /// Default false: `_raw` is the events' text joined with newlines.
    pub mvraw: bool,
    /// Default a single space.
    pub delim: String,
}

/// A `startswith=`/`endswith=` filter.
#[derive(Clone, Debug, PartialEq)]
pub enum TxnFilter {
    /// `startswith=(EventCode=4720)`, `startswith="text"` (a quoted term, matched against
    /// `_raw`), `startswith=word`.
    Search(SearchExpr),
    /// `startswith=eval(expr)`.
    Eval(Expr),
}

/// `mvlist=`: which fields keep every value in event order instead of the sorted distinct set.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum MvList {
    /// `mvlist=false` (default).
    #[default]
    Off,
    /// `mvlist=true`.
    All,
    /// `mvlist="f1,f2"`.
    Fields(Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Foreach {
    /// Field names or wildcard patterns.
    pub fields: Vec<String>,
    /// The subsearch text between the brackets, unparsed: it is only valid SPL once the
    /// placeholders are replaced.
    pub template: String,
    /// Where the template starts in the search text, for errors.
    pub template_span: Span,
}

/// A search expression (tstats `where`, the `search` command, the leading implicit search).
///
/// Semantics (Splunk's): value matching is case-insensitive with `*` wildcards; field names are
/// case-sensitive; `OR` binds tighter than implicit/explicit `AND`; `NOT` applies to the next
/// term. The parser produces `And`/`Or` with the right grouping, so the engine needs no
/// precedence knowledge.
#[derive(Clone, Debug, PartialEq)]
pub enum SearchExpr {
    /// Matches every event: `*`, or an empty search.
    All,
    And(Vec<SearchExpr>),
    Or(Vec<SearchExpr>),
    Not(Box<SearchExpr>),
    /// `field<op>value`. `field=*` means "field present".
    Compare {
        field: String,
        op: CompareOp,
        value: SearchValue,
    },
    /// `field IN (v1, v2, ...)`: any item matches (each item may have wildcards).
    In {
        field: String,
        values: Vec<SearchValue>,
    },
    /// A bare term, matched against `_raw` (case-insensitive, wildcards).
    Term(SearchValue),
    /// `[ subsearch ]`: replaced, before matching, by the subsearch's results as
    /// `(f1=v1 f2=v2) OR (...)` (Splunk's `format`).
    Subsearch(Box<Pipeline>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A literal value in a search expression, with escapes already resolved.
///
/// `*` in `text` is a wildcard whether or not the value was quoted (Splunk cannot escape `*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchValue {
    pub text: String,
    pub quoted: bool,
}

/// An `eval`/`where` expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// The literal `null()` is a call; this is for string literals `"..."`.
    Str(String),
    Num(f64),
    Bool(bool),
    /// A field reference: bare name or `'quoted name'`.
    Field(String),
    /// A function call, name lowercased.
    Call {
        name: String,
        args: Vec<Expr>,
        span: Span,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
}

/// Binary operators of eval, lowest precedence first:
/// OR < XOR < AND < comparison (= == != < <= > >= LIKE) < `.` `+` `-` < `*` `/` `%`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    Xor,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    Add,
    Sub,
    Concat,
    Mul,
    Div,
    Mod,
}

/// An aggregation in `stats`/`tstats`/`eventstats`: `count`, `dc(f)`, `values(f) as x`, ...
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregation {
    /// Function name lowercased; `distinct_count` is normalised to `dc`.
    pub func: String,
    /// The argument: a field, or `eval(...)` in `count(eval(x>1))`; none for bare `count`.
    pub arg: Option<AggArg>,
    /// Output column: the alias after `as`, else the text as written, e.g. `values(Processes.process)`
    /// or `count`.
    pub name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AggArg {
    Field(String),
    Eval(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tstats {
    /// `summariesonly=`, `allow_old_summaries=`, `fillnull_value=`, `prestats=`... as written.
    pub options: Vec<(String, String)>,
    pub aggregations: Vec<Aggregation>,
    /// After `from datamodel=`: `Endpoint.Processes` or `Endpoint`.
    pub datamodel: String,
    /// `where nodename=...` is kept inside `filter` like any other term.
    pub filter: SearchExpr,
    /// Group-by fields, in order.
    pub by: Vec<String>,
    /// `span=` for `_time` in the by-clause (e.g. `1h`).
    pub span: Option<String>,
}

impl Tstats {
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub aggregations: Vec<Aggregation>,
    pub by: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dedup {
    /// `dedup N field...`: keep N per combination (default 1).
    pub count: u64,
    pub fields: Vec<String>,
    pub keepempty: bool,
    pub consecutive: bool,
    pub sortby: Vec<SortKey>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sort {
    /// `sort N ...` or `limit=N`; `None` means Splunk's default of 10000.
    pub limit: Option<u64>,
    pub keys: Vec<SortKey>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub field: String,
    pub descending: bool,
    /// `auto` (default), `str`, `num`, `ip`.
    pub mode: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Convert {
    /// `timeformat=` (default `%m/%d/%Y %H:%M:%S`).
    pub timeformat: Option<String>,
    pub conversions: Vec<Conversion>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Conversion {
    /// `ctime`, `mktime`, `dur2sec`, `num`, `auto`, `rmunit`, ...
    pub func: String,
    pub field: String,
    pub alias: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Join {
    /// `type=inner|outer|left`, `max=N`, `overwrite=`, ... as written.
    pub options: Vec<(String, String)>,
    pub fields: Vec<String>,
    pub subsearch: Pipeline,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Lookup {
    pub table: String,
    /// `local=`, `update=` options.
    pub options: Vec<(String, String)>,
    /// Input fields: (field in lookup table, field in the event) — `lookup t f1 AS ev1`.
    pub inputs: Vec<(String, String)>,
    /// `OUTPUT` (true) or `OUTPUTNEW` (false).
    pub overwrite: bool,
    /// Output fields: (field in lookup table, field in the event). Empty means all other columns.
    pub outputs: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Inputlookup {
    pub table: String,
    pub options: Vec<(String, String)>,
    pub filter: Option<SearchExpr>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rex {
    /// `field=` (default `_raw`).
    pub field: String,
    pub pattern: String,
    /// `mode=sed` uses `pattern` as an `s/x/y/g` expression.
    pub sed: bool,
    pub max_match: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RegexCmd {
    /// `regex field="re"` / `regex field!="re"`; `_raw` when only a pattern is given.
    pub field: String,
    pub negate: bool,
    pub pattern: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fillnull {
    /// `value=` (default `0`).
    pub value: String,
    /// Fields to fill; empty means every field present in any row.
    pub fields: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Bin {
    pub field: String,
    /// `span=` as written (`1h`, `10m`, `100`), if given.
    pub span: Option<String>,
    pub bins: Option<u64>,
    pub alias: Option<String>,
}
