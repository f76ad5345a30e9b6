//! `scgnn convert`: read a matrix in one format, write it in another.

use crate::InputArgs;
use clap::Args;
use scgnn::error::Result;
use scgnn::io::{self, Format};
use std::path::PathBuf;

/// `scgnn convert`.
#[derive(Args, Debug)]
pub struct ConvertArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output path.
    #[arg(long, short = 'o')]
    output: PathBuf,
    /// Output format (default: from the extension; a path without extension is a 10X mtx folder).
    #[arg(long, value_enum, ignore_case = true)]
    output_format: Option<Format>,
}

/// Runs `scgnn convert`.
pub fn run(a: &ConvertArgs) -> Result<()> {
    let m = io::read_matrix(&a.input.input, &a.input.read.options())?;
    io::write_matrix(&a.output, &m, a.output_format)
}
