//! Annotation columns of an AnnData's `obs` and `var` dataframes, read from an
//! input `.h5ad` so that the output `.h5ad` keeps them (subset to the kept
//! cells and genes).

/// One dataframe column.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// Strings (`string-array`).
    Str(Vec<String>),
    /// Floating-point numbers.
    F64(Vec<f64>),
    /// Integers.
    I64(Vec<i64>),
    /// A pandas categorical: codes into `categories` (−1 = missing).
    Categorical {
        /// One code per row.
        codes: Vec<i32>,
        /// The category names.
        categories: Vec<String>,
    },
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Str(v) => v.len(),
            Column::F64(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::Categorical { codes, .. } => codes.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows `keep`, in that order.
    pub fn select(&self, keep: &[usize]) -> Column {
        fn pick<T: Clone>(v: &[T], keep: &[usize]) -> Vec<T> {
            keep.iter().map(|&i| v[i].clone()).collect()
        }
        match self {
            Column::Str(v) => Column::Str(pick(v, keep)),
            Column::F64(v) => Column::F64(pick(v, keep)),
            Column::I64(v) => Column::I64(pick(v, keep)),
            Column::Categorical { codes, categories } => Column::Categorical {
                codes: pick(codes, keep),
                categories: categories.clone(),
            },
        }
    }
}

/// Named columns, in the dataframe's order.
pub type Columns = Vec<(String, Column)>;

/// Every column of `cols` restricted to the rows `keep`.
pub fn select(cols: &Columns, keep: &[usize]) -> Columns {
    cols.iter()
        .map(|(k, c)| (k.clone(), c.select(keep)))
        .collect()
}
