//! `ExportUsageDetails`: the details rows as one CSV file, byte for byte as
//! the contract fixes it. A UTF-8 byte order mark (without it, spreadsheet
//! programs read the file in the machine's legacy code page), RFC 4180
//! quoting (a cell is quoted only when it holds a comma, a quote, a CR or a
//! LF; quotes inside are doubled), CRLF after every record, nulls as empty
//! cells, and the formula-injection guard: a cell that would begin with `=`,
//! `+`, `-`, `@`, a tab or a CR is prefixed with `'`, so that a spreadsheet
//! shows it as text instead of evaluating it.
//!
//! The file is written into a buffer capped at the export limit: past it the
//! export stops at once (the service answers `InvalidTimeSpan.TooManyRecords`),
//! so an export too large is never built whole.

use super::usage_api::{DetailsQuery, DetailsRow};
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::io;

/// UTF-8's byte order mark, the file's first bytes.
pub const BOM: &str = "\u{FEFF}";

/// The header record, in the contract's column order.
pub const HEADER: [&str; 13] = [
    "Date",
    "Application",
    "ClassName",
    "ClassId",
    "StartTime",
    "EndTime",
    "UserCount",
    "UsageType",
    "DurationSeconds",
    "BillableMinutes",
    "Packages",
    "PackageMinutes",
    "PayAsYouGoMinutes",
];

/// The answer's `Content-Type`.
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// What separates the names of the packages that paid for one row.
const PACKAGE_SEPARATOR: &str = "; ";

/// The first characters that make a spreadsheet read a cell as a formula
/// (or, for tab and CR, that some programs strip before doing so).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Why an export was not written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// The file would pass the byte limit: `InvalidTimeSpan.TooManyRecords`.
    #[error("the export would pass its byte limit")]
    TooLarge,
    /// The writer failed otherwise: a defect, as every record has the same
    /// 13 cells and the buffer is memory.
    #[error("the CSV writer failed: {0}")]
    Writer(String),
}

/// A finished export: the file, its name, and how many rows it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvFile {
    /// `usage-{AppId}-{ServiceType}-{first day}-{last day}.csv`.
    pub file_name: String,
    /// The whole file, byte order mark first.
    pub text: String,
    /// Data records, the header aside.
    pub rows: usize,
}

impl CsvFile {
    /// The export of `rows` (every row of the window, in allocation order),
    /// or `TooLarge` as soon as the file would pass `limit` bytes.
    pub fn details(
        query: &DetailsQuery,
        rows: &[DetailsRow],
        limit: usize,
    ) -> Result<Self, ExportError> {
        Ok(CsvFile {
            file_name: query.export_file_name(),
            text: details_csv(rows, limit)?,
            rows: rows.len(),
        })
    }

    /// The `Content-Disposition` header: a download under the export's name
    /// (which needs no escaping: an app id has no quote, space or non-ASCII
    /// character).
    pub fn content_disposition(&self) -> String {
        format!("attachment; filename=\"{}\"", self.file_name)
    }
}

/// The file's text. The HTTP entry point answers an export as the file
/// itself; this lets every answer of the query service serialize alike.
impl Serialize for CsvFile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// The CSV text of `rows`, at most `limit` bytes (byte order mark included).
pub fn details_csv<'a>(
    rows: impl IntoIterator<Item = &'a DetailsRow>,
    limit: usize,
) -> Result<String, ExportError> {
    let mut out = CsvOut::with_bom(limit)?;
    out.record(HEADER)?;
    for row in rows {
        out.record(cells(row))?;
    }
    out.finish()
}

/// One row's cells, in `HEADER` order, before the guard and quoting.
fn cells(row: &DetailsRow) -> [Cow<'_, str>; 13] {
    fn or_empty<T: ToString>(value: Option<T>) -> Cow<'static, str> {
        value.map_or(Cow::Borrowed(""), |v| Cow::Owned(v.to_string()))
    }
    let application = row
        .app_name
        .as_ref()
        .map_or(row.app_id.as_str(), |name| name.as_str());
    let packages: Vec<&str> = row
        .packages
        .iter()
        .map(|p| p.package_name.as_str())
        .collect();
    [
        Cow::Owned(row.date.key()),
        Cow::Borrowed(application),
        Cow::Borrowed(row.class_name.as_ref().map_or("", |n| n.as_str())),
        Cow::Borrowed(row.class_id.as_ref().map_or("", |c| c.as_str())),
        or_empty(row.start_time.as_ref()),
        or_empty(row.end_time.as_ref()),
        or_empty(row.user_count),
        Cow::Borrowed(row.usage_type.map_or("", |u| u.as_str())),
        // Exact seconds, written as the JSON answers write them.
        Cow::Owned(row.duration_seconds.to_json_number()),
        Cow::Owned(row.billable_minutes.to_string()),
        Cow::Owned(packages.join(PACKAGE_SEPARATOR)),
        Cow::Owned(row.package_minutes.to_string()),
        Cow::Owned(row.pay_as_you_go_minutes.to_string()),
    ]
}

/// `cell` as a spreadsheet must show it: prefixed with `'` when it would
/// begin with a character that starts a formula.
fn guarded(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The CSV writer over the capped buffer. Each record is flushed into the
/// buffer as it is written, so the cap is checked record by record.
struct CsvOut {
    writer: csv::Writer<Capped>,
}

impl CsvOut {
    /// A writer whose first bytes are the byte order mark.
    fn with_bom(limit: usize) -> Result<Self, ExportError> {
        let mut capped = Capped {
            out: Vec::new(),
            limit,
        };
        capped.write_all_capped(BOM.as_bytes()).map_err(io_error)?;
        Ok(Self::over(capped))
    }

    fn over(capped: Capped) -> Self {
        let writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(capped);
        CsvOut { writer }
    }

    fn record<I>(&mut self, cells: I) -> Result<(), ExportError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for cell in cells {
            self.writer
                .write_field(guarded(cell.as_ref()).as_bytes())
                .map_err(csv_error)?;
        }
        self.writer.write_record(None::<&[u8]>).map_err(csv_error)?;
        self.writer.flush().map_err(io_error)
    }

    fn finish(self) -> Result<String, ExportError> {
        let capped = self
            .writer
            .into_inner()
            .map_err(|e| io_error(e.into_error()))?;
        // Every cell was a `str`, and the quoting only adds ASCII.
        String::from_utf8(capped.out).map_err(|e| ExportError::Writer(e.to_string()))
    }
}

/// The file's bytes, refusing any write that would take them past `limit`.
struct Capped {
    out: Vec<u8>,
    limit: usize,
}

/// The error a write past the cap fails with.
#[derive(Debug, thiserror::Error)]
#[error("the export would pass its byte limit")]
struct OverLimit;

impl Capped {
    fn write_all_capped(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() > self.limit.saturating_sub(self.out.len()) {
            return Err(io::Error::other(OverLimit));
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all_capped(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The cap is the only way a write can fail.
fn io_error(err: io::Error) -> ExportError {
    if err.get_ref().is_some_and(|inner| inner.is::<OverLimit>()) {
        ExportError::TooLarge
    } else {
        ExportError::Writer(err.to_string())
    }
}

fn csv_error(err: csv::Error) -> ExportError {
    match err.into_kind() {
        csv::ErrorKind::Io(err) => io_error(err),
        other => ExportError::Writer(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::class::UsageType;
    use crate::domain::ids::{AppId, ClassId, Name, PackageId};
    use crate::domain::time::{Day, UtcMillis};
    use crate::domain::usage::Seconds;
    use crate::domain::usage_api::{DetailsService, MAX_EXPORT_BYTES, PackageCharge};
    use crate::domain::zone::BillingZone;

    const HEADER_LINE: &str = "Date,Application,ClassName,ClassId,StartTime,EndTime,UserCount,\
                               UsageType,DurationSeconds,BillableMinutes,Packages,PackageMinutes,\
                               PayAsYouGoMinutes\r\n";

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap_or_else(|| panic!("a name: {text:?}"))
    }

    fn at(text: &str) -> UtcMillis {
        UtcMillis::parse_query_time(text).expect("a query time")
    }

    fn charge(id: &str, package: &str, minutes: u64) -> PackageCharge {
        PackageCharge {
            package_id: PackageId::parse(id).expect("a package id"),
            package_name: name(package),
            minutes,
        }
    }

    /// An audio/video row of class `class` named `class_name`.
    fn av_row(class: &str, class_name: Option<&str>) -> DetailsRow {
        DetailsRow {
            date: Day::parse_key("2026-11-20").expect("a day"),
            app_id: AppId::parse("app-1").expect("an app id"),
            app_name: None,
            class_id: Some(ClassId::parse(class).expect("a class id")),
            class_name: class_name.map(name),
            start_time: None,
            end_time: None,
            usage_type: Some(UsageType::Interactive),
            user_count: Some(1),
            duration_seconds: Seconds(60_000),
            billable_minutes: 1,
            packages: vec![],
            package_minutes: 0,
            pay_as_you_go_minutes: 1,
        }
    }

    /// A writer without the byte order mark, to look at records alone.
    fn bare_writer(limit: usize) -> CsvOut {
        CsvOut::over(Capped {
            out: Vec::new(),
            limit,
        })
    }

    fn export(rows: &[DetailsRow]) -> String {
        details_csv(rows, usize::MAX).expect("no limit")
    }

    /// The file of `rows` with the byte order mark and header taken off.
    fn body(rows: &[DetailsRow]) -> String {
        let text = export(rows);
        text.strip_prefix(BOM)
            .and_then(|t| t.strip_prefix(HEADER_LINE))
            .unwrap_or_else(|| panic!("no BOM and header: {text:?}"))
            .to_owned()
    }

    #[test]
    fn a_small_export_byte_for_byte() {
        let mut first = av_row("class-42", Some("Algebra, \"Intro\""));
        first.app_name = Some(name("Demo School 演示学校"));
        first.start_time = Some("2026-11-20T10:00:00+00:00".to_owned());
        // Instants are written truncated to the second.
        first.end_time = Some("2026-11-20T11:00:00+00:00".to_owned());
        first.user_count = Some(3);
        first.duration_seconds = Seconds(10_580_500);
        first.billable_minutes = 177;
        first.packages = vec![
            charge("pkg-1", "Starter 100", 100),
            charge("pkg-2", "Extra", 7),
        ];
        first.package_minutes = 107;
        first.pay_as_you_go_minutes = 70;
        let mut second = av_row("-5", Some("-5"));
        second.usage_type = Some(UsageType::Playback);
        second.duration_seconds = Seconds(1);
        let recording = DetailsRow {
            class_id: None,
            class_name: None,
            usage_type: None,
            user_count: None,
            duration_seconds: Seconds(2_700_000),
            billable_minutes: 45,
            pay_as_you_go_minutes: 45,
            ..av_row("x", None)
        };
        let text = export(&[first, second, recording]);
        let expected = "\u{FEFF}Date,Application,ClassName,ClassId,StartTime,EndTime,UserCount,\
                        UsageType,DurationSeconds,BillableMinutes,Packages,PackageMinutes,\
                        PayAsYouGoMinutes\r\n\
                        2026-11-20,Demo School 演示学校,\"Algebra, \"\"Intro\"\"\",class-42,\
                        2026-11-20T10:00:00+00:00,2026-11-20T11:00:00+00:00,3,Interactive,10580.5,177,\
                        Starter 100; Extra,107,70\r\n\
                        2026-11-20,app-1,'-5,'-5,,,1,Playback,0.001,1,,0,1\r\n\
                        2026-11-20,app-1,,,,,,,2700,45,,0,45\r\n";
        assert_eq!(text, expected);
        assert_eq!(
            &text.as_bytes()[..3],
            b"\xEF\xBB\xBF",
            "UTF-8's byte order mark"
        );
    }

    #[test]
    fn an_empty_export_is_the_header_alone() {
        let text = export(&[]);
        assert_eq!(text, format!("{BOM}{HEADER_LINE}"));
        assert_eq!(text.len(), 3 + HEADER.join(",").len() + 2);
    }

    #[test]
    fn quoting_follows_rfc_4180_and_only_when_needed() {
        let cases = [
            ("plain", "plain"),
            ("", ""),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("\"", "\"\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("two\r\nlines", "\"two\r\nlines\""),
            ("cr\rinside", "\"cr\rinside\""),
            // Spaces, apostrophes and semicolons need no quotes.
            (" padded ", " padded "),
            ("it's; fine", "it's; fine"),
        ];
        for (cell, written) in cases {
            let mut out = bare_writer(usize::MAX);
            out.record([cell, "z"]).expect("written");
            assert_eq!(
                out.finish().expect("text"),
                format!("{written},z\r\n"),
                "{cell:?}"
            );
        }
    }

    #[test]
    fn the_formula_guard_prefixes_every_dangerous_first_character() {
        let cases = [
            ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
            ("+1", "'+1"),
            ("-5", "'-5"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            // A leading CR is guarded, then quoted because it holds a CR.
            ("\rx", "\"'\rx\""),
            ("=a,b", "\"'=a,b\""),
            ("=\"x\"", "\"'=\"\"x\"\"\""),
            // Only the first character counts.
            ("a=b", "a=b"),
            ("1-2", "1-2"),
            (" =x", " =x"),
            ("'quoted", "'quoted"),
        ];
        for (cell, written) in cases {
            let mut out = bare_writer(usize::MAX);
            out.record([cell]).expect("written");
            assert_eq!(
                out.finish().expect("text"),
                format!("{written}\r\n"),
                "{cell:?}"
            );
        }
        // Every column is guarded: names, ids and the joined package names.
        let mut row = av_row("-class", Some("@name"));
        row.app_name = Some(name("+app"));
        row.packages = vec![charge("p", "=pkg", 1), charge("q", "-2", 0)];
        row.package_minutes = 1;
        row.pay_as_you_go_minutes = 0;
        assert_eq!(
            body(&[row]),
            "2026-11-20,'+app,'@name,'-class,,,1,Interactive,60,1,'=pkg; -2,1,0\r\n"
        );
    }

    #[test]
    fn numbers_are_never_guarded() {
        // Durations, minutes and counts are never negative, so they never
        // begin with `-` and are written exactly as the JSON answers.
        let mut row = av_row("c", None);
        row.duration_seconds = Seconds(0);
        row.billable_minutes = 0;
        row.pay_as_you_go_minutes = 0;
        row.user_count = Some(0);
        assert_eq!(
            body(&[row]),
            "2026-11-20,app-1,,c,,,0,Interactive,0,0,,0,0\r\n"
        );
        let mut row = av_row("c", None);
        row.duration_seconds = Seconds(12_340);
        assert!(body(&[row]).contains(",12.34,"));
    }

    #[test]
    fn emoji_and_right_to_left_names_pass_through_unchanged() {
        let names = [
            "🎓 Physics 👩‍🏫🏳️‍🌈",
            "الرياضيات للصف الأول",
            "שיעור מתמטיקה",
            "\u{202E}reversed\u{202C}",
            "数学課 𠮷",
        ];
        for class_name in names {
            let mut row = av_row("c", Some(class_name));
            row.app_name = Some(name("مدرسة 🏫"));
            let text = body(&[row]);
            assert_eq!(
                text,
                format!("2026-11-20,مدرسة 🏫,{class_name},c,,,1,Interactive,60,1,,0,1\r\n")
            );
        }
    }

    #[test]
    fn the_byte_limit_is_exact() {
        let rows: Vec<DetailsRow> = (0..50)
            .map(|i| av_row(&format!("class-{i}"), Some("名前, \"quoted\"")))
            .collect();
        let whole = export(&rows).len();
        assert_eq!(details_csv(&rows, whole).map(|t| t.len()), Ok(whole));
        assert_eq!(details_csv(&rows, whole - 1), Err(ExportError::TooLarge));
        // Even the byte order mark and the header count.
        assert_eq!(details_csv(&[], 2), Err(ExportError::TooLarge));
    }

    /// A name of 128 characters that is `bytes` long in UTF-8 (128 to 384):
    /// ASCII, then one two-byte character if the rest is odd, then
    /// three-byte ones.
    fn name_of_bytes(bytes: usize) -> String {
        assert!((128..=128 * 3).contains(&bytes));
        let extra = bytes - 128;
        let (three, two) = (extra / 2, extra % 2);
        let ascii = 128 - three - two;
        format!(
            "{}{}{}",
            "a".repeat(ascii),
            "é".repeat(two),
            "名".repeat(three)
        )
    }

    /// Rows whose export is exactly `total` bytes.
    fn rows_of_total(total: usize) -> Vec<DetailsRow> {
        let fixed = export(&[]).len();
        let bare = body(&[av_row("c", Some("a"))]).len() - 1;
        let (smallest, largest) = (bare + 128, bare + 384);
        let count = (total - fixed).div_ceil(largest);
        let mut left = total - fixed;
        let mut rows = Vec::new();
        for i in 0..count {
            let share = left / (count - i);
            assert!((smallest..=largest).contains(&share));
            rows.push(av_row("c", Some(&name_of_bytes(share - bare))));
            left -= share;
        }
        assert_eq!(export(&rows).len(), total);
        rows
    }

    #[test]
    fn just_under_and_just_over_five_million_bytes() {
        let at_limit = rows_of_total(MAX_EXPORT_BYTES);
        let text = details_csv(&at_limit, MAX_EXPORT_BYTES).expect("exactly the limit");
        assert_eq!(text.len(), MAX_EXPORT_BYTES);
        let over = rows_of_total(MAX_EXPORT_BYTES + 1);
        assert_eq!(
            details_csv(&over, MAX_EXPORT_BYTES),
            Err(ExportError::TooLarge)
        );
    }

    #[test]
    fn the_writer_stops_at_the_record_that_passes_the_limit() {
        let limit = 1_000;
        let mut out = bare_writer(limit);
        let mut written = 0;
        let refused = loop {
            match out.record(["x".repeat(90)]) {
                Ok(()) => written += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(refused, ExportError::TooLarge);
        assert_eq!(written, limit / 92, "whole records of 92 bytes");
        let buffered = out.writer.get_ref().out.len();
        assert!(buffered <= limit, "{buffered} bytes buffered");
    }

    #[test]
    fn the_file_is_named_after_the_app_service_and_days() {
        let query = DetailsQuery {
            app: AppId::parse("app-1").expect("an app id"),
            start: at("2026-11-01T08:00:00Z"),
            end: at("2026-11-08T00:00:00Z"),
            service: DetailsService::Recording,
            class: None,
            zone: BillingZone::utc(),
        };
        let file = CsvFile::details(&query, &[], MAX_EXPORT_BYTES).expect("a file");
        assert_eq!(
            file.file_name,
            "usage-app-1-Recording-2026-11-01-2026-11-07.csv"
        );
        assert_eq!(
            file.content_disposition(),
            "attachment; filename=\"usage-app-1-Recording-2026-11-01-2026-11-07.csv\""
        );
        assert_eq!(file.rows, 0);
    }
}
