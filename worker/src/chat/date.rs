//! The date a template's `strftime_now` sees. Llama 3.1+ templates write "Today Date" into the
//! system block, so the prompt (and any cached KV prefix) changes with it: a conversation pins
//! one date and passes it to every render.

/// A calendar date (proleptic Gregorian); the time of day is always midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChatDate {
    pub year: i32,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

impl ChatDate {
    pub fn new(year: i32, month: u32, day: u32) -> Option<ChatDate> {
        let d = ChatDate { year, month, day };
        ((1..=12).contains(&month) && day >= 1 && day <= d.days_in_month()).then_some(d)
    }

    /// The UTC date of a Unix time (seconds), e.g. from JavaScript's `Date.now() / 1000`.
    pub fn from_unix_seconds(seconds: i64) -> ChatDate {
        // Howard Hinnant's civil_from_days.
        let z = seconds.div_euclid(86_400) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        ChatDate { year, month, day }
    }

    fn is_leap(&self) -> bool {
        (self.year % 4 == 0 && self.year % 100 != 0) || self.year % 400 == 0
    }

    fn days_in_month(&self) -> u32 {
        match self.month {
            2 if self.is_leap() => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    fn day_of_year(&self) -> u32 {
        let before: u32 = (1..self.month)
            .map(|m| ChatDate { month: m, ..*self }.days_in_month())
            .sum();
        before + self.day
    }

    /// 0 = Monday.
    fn weekday(&self) -> usize {
        // Days from 1970-01-01 (a Thursday) via the inverse of civil_from_days.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        (days + 3).rem_euclid(7) as usize
    }

    /// Python's `strftime` for this date at midnight (C locale). Supports the directives
    /// chat templates use; others are an error rather than a silently different prompt.
    pub fn strftime(&self, format: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let month = MONTHS[(self.month - 1) as usize];
            let weekday = WEEKDAYS[self.weekday()];
            match chars.next() {
                Some('Y') => out.push_str(&self.year.to_string()),
                Some('y') => out.push_str(&format!("{:02}", self.year.rem_euclid(100))),
                Some('m') => out.push_str(&format!("{:02}", self.month)),
                Some('d') => out.push_str(&format!("{:02}", self.day)),
                Some('e') => out.push_str(&format!("{:2}", self.day)),
                Some('j') => out.push_str(&format!("{:03}", self.day_of_year())),
                Some('B') => out.push_str(month),
                Some('b') | Some('h') => out.push_str(&month[..3]),
                Some('A') => out.push_str(weekday),
                Some('a') => out.push_str(&weekday[..3]),
                Some('u') => out.push_str(&(self.weekday() + 1).to_string()),
                Some('w') => out.push_str(&((self.weekday() + 1) % 7).to_string()),
                Some('F') => {
                    out.push_str(&format!("{}-{:02}-{:02}", self.year, self.month, self.day))
                }
                Some('H') | Some('M') | Some('S') => out.push_str("00"),
                Some('I') => out.push_str("12"),
                Some('p') => out.push_str("AM"),
                Some('%') => out.push('%'),
                Some(other) => return Err(format!("unsupported strftime directive %{other}")),
                None => return Err("strftime format ends with %".into()),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_python() {
        let d = ChatDate::new(2024, 7, 26).unwrap();
        assert_eq!(d.strftime("%d %b %Y").unwrap(), "26 Jul 2024");
        assert_eq!(
            d.strftime("%A %B %e, %y %j %F %%").unwrap(),
            "Friday July 26, 24 208 2024-07-26 %"
        );
        assert!(d.strftime("%Q").is_err());
        assert_eq!(ChatDate::from_unix_seconds(1_721_952_000), d);
        assert_eq!(
            ChatDate::from_unix_seconds(0),
            ChatDate::new(1970, 1, 1).unwrap()
        );
        assert_eq!(
            ChatDate::new(2000, 2, 29).unwrap().strftime("%a").unwrap(),
            "Tue"
        );
        assert!(ChatDate::new(2023, 2, 29).is_none());
    }
}
