//! Rows of cells as aligned text columns: padded to the widest cell, or
//! fitted to a width by cutting some columns and wrapping the last.

/// Columns the plan may shorten, most expendable first, each down to the
/// width it keeps: UPSTREAM (cut in the middle: its name and digest
/// stay), NEXT DUE (its date stays), LAST BUILD (its version stays).
/// Reasons are never cut.
const SHRINKABLE: [(usize, usize); 3] = [(5, 20), (4, 10), (3, 12)];
/// The least room the last column (the reasons) gets before wrapping.
const REASONS_AT_LEAST: usize = 30;

/// Rows as columns that fit `width`: the shrinkable columns cut with `…`
/// (their end kept: a tag or digest), the last column wrapped at words
/// onto indented lines. Never cuts the last column.
pub(super) fn fitted_table(rows: &[Vec<String>], width: usize) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    if columns == 0 {
        return String::new();
    }
    let mut widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let fixed = |widths: &[usize]| widths[..columns - 1].iter().sum::<usize>() + 2 * (columns - 1);
    for (column, keep) in SHRINKABLE {
        if column + 1 >= columns {
            continue;
        }
        let over = (fixed(&widths) + widths[columns - 1]).saturating_sub(width);
        let room =
            (fixed(&widths) + REASONS_AT_LEAST.min(widths[columns - 1])).saturating_sub(width);
        let cut = over.max(room).min(widths[column].saturating_sub(keep));
        widths[column] -= cut;
    }
    let indent = fixed(&widths);
    // Past the least widths (long ids) the reasons still wrap, never cut.
    let last_width = width.saturating_sub(indent).max(8);
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate().take(columns - 1) {
            let shown = if column == 5 {
                cut_middle(cell, widths[column])
            } else {
                cut_end(cell, widths[column])
            };
            line.push_str(&format!("{shown:<width$}  ", width = widths[column]));
        }
        let wrapped = wrap(&row[columns - 1], last_width);
        let mut pieces = wrapped.iter();
        line.push_str(pieces.next().map_or("", String::as_str));
        text.push_str(line.trim_end());
        text.push('\n');
        for piece in pieces {
            text.push_str(&" ".repeat(indent));
            text.push_str(piece);
            text.push('\n');
        }
    }
    text
}

/// `text` in at most `width` characters: its start, then `…`.
fn cut_end(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// `text` in at most `width` characters: its start and end around `…`.
fn cut_middle(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_string();
    }
    let tail = width.saturating_sub(1) / 2;
    let head = width.saturating_sub(1) - tail;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(count - tail).collect();
    format!("{start}…{end}")
}

/// `text` in lines of at most `width` characters, broken at spaces (a word
/// longer than a line is split).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = current.chars().count();
            let needed = if used == 0 {
                word.len()
            } else {
                used + 1 + word.len()
            };
            if needed <= width {
                if used > 0 {
                    current.push(' ');
                }
                current.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut current));
                continue;
            }
            let rest = word.split_off(width);
            lines.push(word.into_iter().collect());
            word = rest;
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// Rows as columns padded to their widest cell.
pub(crate) fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(column, cell)| {
                if column + 1 == columns {
                    cell.clone()
                } else {
                    format!("{cell:<width$}", width = widths[column])
                }
            })
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}
