//! The rows of each table. Every table draws from its own forked random
//! stream, and per-show values from a stream forked by show id, so the rows
//! of one table never depend on how many rows another table got.

use std::io::{self, Write};

use jiff::civil::Date;

use crate::database::generate::insert::InsertWriter;
use crate::database::generate::rng::SplitMix64;
use crate::database::generate::text::{person_name, prose, sentence, slug};
use crate::database::generate::words::{CITIES, POSTAL_ABBREVIATIONS, PRONOUNS, VENUE_NAMES};

/// Panelists per show; 1,500 shows give the 6,000 score rows of the real
/// database.
pub const PANELISTS_PER_SHOW: usize = 4;

/// Row counts at scale 1, the shape of the production database.
pub struct Sizes {
    pub shows: i64,
    pub panelists: i64,
    pub guests: i64,
    pub locations: i64,
    pub hosts: i64,
    pub scorekeepers: i64,
}

impl Sizes {
    pub fn at_scale(scale: u32) -> Sizes {
        let scale = i64::from(scale.max(1));
        Sizes {
            shows: 1_500 * scale,
            panelists: 120 * scale,
            guests: 1_200 * scale,
            locations: 160 * scale,
            // Hosts and scorekeepers keep at least 6 and 8 rows: the schema's
            // column defaults point at those ids.
            hosts: 12 * scale,
            scorekeepers: 8 * scale,
        }
    }
}

/// Everything a table writer needs: sizes, the root random stream, the
/// scale and seed.
pub struct Plan {
    pub sizes: Sizes,
    pub rng: SplitMix64,
    pub scale: u32,
    pub seed: u64,
}

/// Stream ids for `SplitMix64::fork`, one per table or per-show value.
mod stream {
    pub const HOSTS: u64 = 1;
    pub const SCOREKEEPERS: u64 = 2;
    pub const PANELISTS: u64 = 3;
    pub const GUESTS: u64 = 4;
    pub const LOCATIONS: u64 = 5;
    pub const PRONOUN_MAPS: u64 = 6;
    pub const SHOWS: u64 = 7;
    pub const DESCRIPTIONS: u64 = 8;
    pub const NOTES: u64 = 9;
    pub const SHOW_MAPS: u64 = 10;
    pub const GUEST_MAPS: u64 = 11;
    pub const PANEL: u64 = 1 << 40;
    pub const SCORES: u64 = 2 << 40;
}

/// The first show date: a Saturday.
fn first_show_date() -> Date {
    jiff::civil::date(1998, 1, 3)
}

/// Days between shows: weekly at scale 1, denser at larger scales so
/// dates stay well inside the `DATE` range (daily from scale 7 up).
fn show_interval_days(scale: u32) -> i64 {
    (7 / i64::from(scale.max(1))).max(1)
}

pub fn metadata(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut writer = InsertWriter::new(out, "__metadata", &["id", "keyname", "value"]);
    let entries = [
        ("database_version", Some("4.7".to_string())),
        ("generated_by", Some("wwctl".to_string())),
        ("scale", Some(plan.scale.to_string())),
        ("seed", Some(plan.seed.to_string())),
        ("comment", None),
    ];
    for (index, (key, value)) in entries.iter().enumerate() {
        writer.begin_row();
        writer.int(index as i64 + 1);
        writer.text(key);
        writer.text_or_null(value.as_deref());
        writer.end_row()?;
    }
    writer.finish()
}

pub fn pronouns(out: &mut dyn Write) -> io::Result<u64> {
    let mut writer = InsertWriter::new(out, "ww_pronouns", &["pronounsid", "pronouns"]);
    for (index, pronouns) in PRONOUNS.iter().enumerate() {
        writer.begin_row();
        writer.int(index as i64 + 1);
        writer.text(pronouns);
        writer.end_row()?;
    }
    writer.finish()
}

pub fn postal_abbreviations(out: &mut dyn Write) -> io::Result<u64> {
    let mut writer = InsertWriter::new(
        out,
        "ww_postal_abbreviations",
        &["postal_abbreviation", "name", "country"],
    );
    for (abbreviation, name, country) in POSTAL_ABBREVIATIONS {
        writer.begin_row();
        writer.text(abbreviation);
        writer.text(name);
        writer.text(country);
        writer.end_row()?;
    }
    writer.finish()
}

/// Hosts, scorekeepers and panelists share a shape: id, name, gender, slug.
pub fn people(
    plan: &Plan,
    out: &mut dyn Write,
    table: &str,
    columns: [&str; 4],
    count: i64,
    stream_id: u64,
) -> io::Result<u64> {
    let mut rng = plan.rng.fork(stream_id);
    let mut writer = InsertWriter::new(out, table, &columns);
    for id in 1..=count {
        let name = person_name(&mut rng);
        let gender = match rng.below(10) {
            0..=3 => Some("M"),
            4..=7 => Some("F"),
            8 => Some("X"),
            _ => None,
        };
        writer.begin_row();
        writer.int(id);
        writer.text(&name);
        writer.text_or_null(gender);
        writer.text(&format!("{}-{id}", slug(&name)));
        writer.end_row()?;
    }
    writer.finish()
}

pub fn hosts(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let columns = ["hostid", "host", "hostgender", "hostslug"];
    people(
        plan,
        out,
        "ww_hosts",
        columns,
        plan.sizes.hosts,
        stream::HOSTS,
    )
}

pub fn scorekeepers(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let columns = [
        "scorekeeperid",
        "scorekeeper",
        "scorekeepergender",
        "scorekeeperslug",
    ];
    let count = plan.sizes.scorekeepers;
    people(
        plan,
        out,
        "ww_scorekeepers",
        columns,
        count,
        stream::SCOREKEEPERS,
    )
}

pub fn panelists(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let columns = ["panelistid", "panelist", "panelistgender", "panelistslug"];
    let count = plan.sizes.panelists;
    people(plan, out, "ww_panelists", columns, count, stream::PANELISTS)
}

pub fn guests(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut rng = plan.rng.fork(stream::GUESTS);
    let mut writer = InsertWriter::new(out, "ww_guests", &["guestid", "guest", "guestslug"]);
    for id in 1..=plan.sizes.guests {
        let name = person_name(&mut rng);
        writer.begin_row();
        writer.int(id);
        writer.text(&name);
        if rng.percent(3) {
            writer.null();
        } else {
            writer.text(&format!("{}-{id}", slug(&name)));
        }
        writer.end_row()?;
    }
    writer.finish()
}

pub fn locations(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut rng = plan.rng.fork(stream::LOCATIONS);
    let columns = [
        "locationid",
        "city",
        "state",
        "venue",
        "latitude",
        "longitude",
        "locationslug",
    ];
    let mut writer = InsertWriter::new(out, "ww_locations", &columns);
    for id in 1..=plan.sizes.locations {
        writer.begin_row();
        writer.int(id);

        // One location in 20 is a studio or an unknown place: no city,
        // state or coordinates.
        if rng.percent(5) {
            writer.null();
            writer.null();
            let venue: &&str = rng.pick(&VENUE_NAMES);
            writer.text(venue);
            writer.null();
            writer.null();
            writer.text_or_null(None);
            writer.end_row()?;
            continue;
        }

        let (city, state, latitude, longitude) = *rng.pick(&CITIES);
        let venue = format!("{city} {}", rng.pick(&VENUE_NAMES));
        // Coordinates have 7 decimals: micro-degrees times 10 plus a jitter
        // of up to about 1 km, so every venue sits at its own point.
        let latitude = latitude * 10 + rng.between(-90_000, 90_000);
        let longitude = longitude * 10 + rng.between(-90_000, 90_000);
        writer.text(city);
        writer.text(state);
        writer.text(&venue);
        writer.decimal(latitude, 7);
        writer.decimal(longitude, 7);
        writer.text(&format!("{}-{id}", slug(&venue)));
        writer.end_row()?;
    }
    writer.finish()
}

/// One pronouns row per host, scorekeeper or panelist.
fn pronoun_map(
    plan: &Plan,
    out: &mut dyn Write,
    table: &str,
    columns: [&str; 3],
    people: i64,
    stream_id: u64,
) -> io::Result<u64> {
    let mut rng = plan.rng.fork((stream::PRONOUN_MAPS << 8) | stream_id);
    let mut writer = InsertWriter::new(out, table, &columns);
    for id in 1..=people {
        writer.begin_row();
        writer.int(id);
        writer.int(id);
        writer.int(rng.below(PRONOUNS.len() as u64) as i64 + 1);
        writer.end_row()?;
    }
    writer.finish()
}

pub fn host_pronouns(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let columns = ["hostpronounsmapid", "hostid", "pronounsid"];
    let count = plan.sizes.hosts;
    pronoun_map(
        plan,
        out,
        "ww_hostpronounsmap",
        columns,
        count,
        stream::HOSTS,
    )
}

pub fn scorekeeper_pronouns(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let columns = ["skpronounsmapid", "scorekeeperid", "pronounsid"];
    let count = plan.sizes.scorekeepers;
    pronoun_map(
        plan,
        out,
        "ww_skpronounsmap",
        columns,
        count,
        stream::SCOREKEEPERS,
    )
}

pub fn panelist_pronouns(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let columns = ["panelistpronounsmapid", "panelistid", "pronounsid"];
    let count = plan.sizes.panelists;
    pronoun_map(
        plan,
        out,
        "ww_panelistpronounsmap",
        columns,
        count,
        stream::PANELISTS,
    )
}

pub fn shows(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut rng = plan.rng.fork(stream::SHOWS);
    let columns = [
        "showid",
        "showdate",
        "repeatshowid",
        "bestof",
        "bestofuniquebluff",
        "showurl",
    ];
    let mut writer = InsertWriter::new(out, "ww_shows", &columns);
    let interval = jiff::Span::new().days(show_interval_days(plan.scale));
    let mut date = first_show_date();

    for id in 1..=plan.sizes.shows {
        let repeat = (id > 50 && rng.percent(6)).then(|| rng.between(1, id - 1));
        let best_of = rng.percent(8);
        let unique_bluff = best_of && rng.percent(30);
        let date_text = date.to_string();

        writer.begin_row();
        writer.int(id);
        writer.text(&date_text);
        writer.int_or_null(repeat);
        writer.int(i64::from(best_of));
        writer.int(i64::from(unique_bluff));
        if rng.percent(10) {
            writer.null();
        } else {
            writer.text(&format!("https://wwdtm.example/shows/{date_text}"));
        }
        writer.end_row()?;

        date = date
            .checked_add(interval)
            .map_err(|error| io::Error::other(format!("show date out of range: {error}")))?;
    }
    writer.finish()
}

/// Show descriptions: mostly a few hundred bytes, one in ten several KB,
/// and some NULL or empty.
pub fn show_descriptions(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut rng = plan.rng.fork(stream::DESCRIPTIONS);
    let mut writer = InsertWriter::new(out, "ww_showdescriptions", &["showid", "showdescription"]);
    for id in 1..=plan.sizes.shows {
        writer.begin_row();
        writer.int(id);
        match rng.below(100) {
            0..=2 => writer.null(),
            3..=4 => writer.text(""),
            5..=14 => {
                let length = rng.between(2_048, 8_192) as usize;
                writer.text(&prose(&mut rng, length));
            }
            _ => {
                let length = rng.between(150, 600) as usize;
                writer.text(&prose(&mut rng, length));
            }
        }
        writer.end_row()?;
    }
    writer.finish()
}

/// Show notes: NULL for many shows, sometimes empty, rarely long.
pub fn show_notes(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut rng = plan.rng.fork(stream::NOTES);
    let mut writer = InsertWriter::new(out, "ww_shownotes", &["showid", "shownotes"]);
    for id in 1..=plan.sizes.shows {
        writer.begin_row();
        writer.int(id);
        match rng.below(100) {
            0..=39 => writer.null(),
            40..=44 => writer.text(""),
            45..=49 => {
                let length = rng.between(3_000, 6_000) as usize;
                writer.text(&prose(&mut rng, length));
            }
            _ => writer.text(&sentence(&mut rng)),
        }
        writer.end_row()?;
    }
    writer.finish()
}

pub fn show_hosts(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut rng = plan.rng.fork(stream::SHOW_MAPS);
    let columns = ["showhostmapid", "showid", "hostid", "guest"];
    let mut writer = InsertWriter::new(out, "ww_showhostmap", &columns);
    for id in 1..=plan.sizes.shows {
        let guest_host = rng.percent(15);
        let host = if guest_host {
            rng.between(2, plan.sizes.hosts)
        } else {
            1
        };
        writer.begin_row();
        writer.int(id);
        writer.int(id);
        writer.int(host);
        writer.int(i64::from(guest_host));
        writer.end_row()?;
    }
    writer.finish()
}

pub fn show_scorekeepers(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut rng = plan.rng.fork(stream::SHOW_MAPS + 1);
    let columns = [
        "showskmapid",
        "showid",
        "scorekeeperid",
        "guest",
        "description",
    ];
    let mut writer = InsertWriter::new(out, "ww_showskmap", &columns);
    for id in 1..=plan.sizes.shows {
        let guest = rng.percent(12);
        let scorekeeper = if guest {
            rng.between(2, plan.sizes.scorekeepers)
        } else {
            1
        };
        writer.begin_row();
        writer.int(id);
        writer.int(id);
        writer.int(scorekeeper);
        writer.int(i64::from(guest));
        if guest {
            writer.text(&sentence(&mut rng));
        } else {
            writer.null();
        }
        writer.end_row()?;
    }
    writer.finish()
}

pub fn show_locations(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut rng = plan.rng.fork(stream::SHOW_MAPS + 2);
    let columns = ["showlocationmapid", "showid", "locationid"];
    let mut writer = InsertWriter::new(out, "ww_showlocationmap", &columns);
    for id in 1..=plan.sizes.shows {
        writer.begin_row();
        writer.int(id);
        writer.int(id);
        writer.int(rng.between(1, plan.sizes.locations));
        writer.end_row()?;
    }
    writer.finish()
}

pub fn show_guests(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut rng = plan.rng.fork(stream::GUEST_MAPS);
    let columns = [
        "showguestmapid",
        "showid",
        "guestid",
        "guestscore",
        "exception",
    ];
    let mut writer = InsertWriter::new(out, "ww_showguestmap", &columns);
    let mut map_id = 0;
    for show in 1..=plan.sizes.shows {
        // Most shows have one "Not My Job" guest; a few have none or two,
        // averaging one guest per show.
        let guests = match rng.below(100) {
            0..=4 => 0,
            5..=94 => 1,
            _ => 2,
        };
        for _ in 0..guests {
            map_id += 1;
            writer.begin_row();
            writer.int(map_id);
            writer.int(show);
            writer.int(rng.between(1, plan.sizes.guests));
            writer.int_or_null((!rng.percent(4)).then(|| rng.between(0, 3)));
            match rng.below(20) {
                0 => writer.int(1),
                1 => writer.null(),
                _ => writer.int(0),
            }
            writer.end_row()?;
        }
    }
    writer.finish()
}

/// The panelists of a show: distinct ids, the same for every table that
/// asks, because they come from a stream forked by show id.
fn show_panel(plan: &Plan, show: i64) -> [i64; PANELISTS_PER_SHOW] {
    let mut rng = plan.rng.fork(stream::PANEL ^ show as u64);
    let mut panel = [0; PANELISTS_PER_SHOW];
    let mut chosen = 0;
    while chosen < PANELISTS_PER_SHOW {
        let candidate = rng.between(1, plan.sizes.panelists);
        if !panel[..chosen].contains(&candidate) {
            panel[chosen] = candidate;
            chosen += 1;
        }
    }
    panel
}

pub fn show_panelists(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let columns = [
        "showpnlmapid",
        "showid",
        "panelistid",
        "panelistlrndstart",
        "panelistlrndstart_decimal",
        "panelistlrndcorrect",
        "panelistlrndcorrect_decimal",
        "panelistscore",
        "panelistscore_decimal",
        "showpnlrank",
    ];
    let mut writer = InsertWriter::new(out, "ww_showpnlmap", &columns);
    let mut map_id = 0;
    for show in 1..=plan.sizes.shows {
        let panel = show_panel(plan, show);
        let mut rng = plan.rng.fork(stream::SCORES ^ show as u64);

        // Scores in hundredths; a best-of or an unscored show has NULLs.
        let scored = !rng.percent(3);
        let scores: Vec<i64> = panel
            .iter()
            .map(|_| rng.between(0, 20) * 100 + if rng.percent(10) { 50 } else { 0 })
            .collect();

        for (seat, panelist) in panel.iter().enumerate() {
            map_id += 1;
            let start = rng.between(0, 6) * 100;
            let correct = rng.between(0, 8) * 100;
            writer.begin_row();
            writer.int(map_id);
            writer.int(show);
            writer.int(*panelist);
            if scored {
                writer.int(start / 100);
                writer.decimal(start, 2);
                writer.int(correct / 100);
                writer.decimal(correct, 2);
                writer.int(scores[seat] / 100);
                writer.decimal(scores[seat], 2);
                writer.text(&rank(&scores, seat));
            } else {
                for _ in 0..6 {
                    writer.null();
                }
                writer.text("");
            }
            writer.end_row()?;
        }
    }
    writer.finish()
}

/// Rank of `scores[seat]` among all scores, `1` best, with `t` for a tie.
fn rank(scores: &[i64], seat: usize) -> String {
    let score = scores[seat];
    let better = scores.iter().filter(|other| **other > score).count();
    let tied = scores.iter().filter(|other| **other == score).count() > 1;
    format!("{}{}", better + 1, if tied { "t" } else { "" })
}

pub fn show_bluffs(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut rng = plan.rng.fork(stream::SHOW_MAPS + 3);
    let columns = [
        "showbluffmapid",
        "showid",
        "segment",
        "chosenbluffpnlid",
        "correctbluffpnlid",
    ];
    let mut writer = InsertWriter::new(out, "ww_showbluffmap", &columns);
    for show in 1..=plan.sizes.shows {
        let panel = show_panel(plan, show);
        let chosen = (!rng.percent(5)).then(|| *rng.pick(&panel));
        let correct = (!rng.percent(2)).then(|| *rng.pick(&panel));
        writer.begin_row();
        writer.int(show);
        writer.int(show);
        writer.int(1);
        writer.int_or_null(chosen);
        writer.int_or_null(correct);
        writer.end_row()?;
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::{rank, show_interval_days};

    #[test]
    fn rank_marks_ties() {
        let scores = [1000, 1500, 1000, 500];
        assert_eq!(rank(&scores, 1), "1");
        assert_eq!(rank(&scores, 0), "2t");
        assert_eq!(rank(&scores, 2), "2t");
        assert_eq!(rank(&scores, 3), "4");
    }

    #[test]
    fn interval_is_weekly_at_scale_one_and_daily_at_hundred() {
        assert_eq!(show_interval_days(1), 7);
        assert_eq!(show_interval_days(2), 3);
        assert_eq!(show_interval_days(100), 1);
    }
}
