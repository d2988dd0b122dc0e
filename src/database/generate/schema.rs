//! wwctl's own DDL for the Wait Wait Stats database: the production
//! schema's 20 tables with the same columns and types, utf8mb4 with
//! `utf8mb4_unicode_ci`, InnoDB, and foreign keys between shows, panelists,
//! guests, hosts, scorekeepers and locations.

/// The options every table is created with.
const TABLE_OPTIONS: &str = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";

/// Tables in an order that satisfies their foreign keys, each with the
/// body of its `CREATE TABLE` (columns, keys, constraints).
pub const TABLES: [(&str, &str); 20] = [
    (
        "__metadata",
        "id int NOT NULL AUTO_INCREMENT,
  keyname varchar(128) NOT NULL,
  value varchar(255) DEFAULT NULL,
  PRIMARY KEY (id)",
    ),
    (
        "ww_pronouns",
        "pronounsid int NOT NULL AUTO_INCREMENT,
  pronouns varchar(255) NOT NULL,
  PRIMARY KEY (pronounsid)",
    ),
    (
        "ww_postal_abbreviations",
        "postal_abbreviation varchar(3) NOT NULL,
  name varchar(255) NOT NULL,
  country varchar(255) NOT NULL,
  PRIMARY KEY (postal_abbreviation),
  KEY idx_postal_name (name)",
    ),
    (
        "ww_hosts",
        "hostid int NOT NULL AUTO_INCREMENT,
  host varchar(255) NOT NULL,
  hostgender char(1) DEFAULT NULL,
  hostslug varchar(255) DEFAULT NULL,
  PRIMARY KEY (hostid),
  KEY idx_host (host),
  KEY idx_hostslug (hostslug)",
    ),
    (
        "ww_scorekeepers",
        "scorekeeperid int NOT NULL AUTO_INCREMENT,
  scorekeeper varchar(255) NOT NULL,
  scorekeepergender char(1) DEFAULT NULL,
  scorekeeperslug varchar(255) DEFAULT NULL,
  PRIMARY KEY (scorekeeperid),
  KEY idx_scorekeeper (scorekeeper),
  KEY idx_scorekeeperslug (scorekeeperslug)",
    ),
    (
        "ww_panelists",
        "panelistid int NOT NULL AUTO_INCREMENT,
  panelist varchar(255) NOT NULL,
  panelistgender char(1) DEFAULT NULL,
  panelistslug varchar(255) DEFAULT NULL,
  PRIMARY KEY (panelistid),
  KEY idx_panelist (panelist),
  KEY idx_panelistslug (panelistslug)",
    ),
    (
        "ww_guests",
        "guestid int NOT NULL AUTO_INCREMENT,
  guest varchar(255) NOT NULL,
  guestslug varchar(255) DEFAULT NULL,
  PRIMARY KEY (guestid),
  KEY idx_guest (guest),
  KEY idx_guestslug (guestslug)",
    ),
    (
        "ww_locations",
        "locationid int NOT NULL AUTO_INCREMENT,
  city varchar(255) DEFAULT NULL,
  state varchar(3) DEFAULT NULL,
  venue varchar(255) DEFAULT NULL,
  latitude decimal(10,7) DEFAULT NULL,
  longitude decimal(10,7) DEFAULT NULL,
  locationslug varchar(255) DEFAULT NULL,
  PRIMARY KEY (locationid),
  KEY idx_location_state (state),
  CONSTRAINT fk_location_state FOREIGN KEY (state) REFERENCES ww_postal_abbreviations (postal_abbreviation)",
    ),
    (
        "ww_hostpronounsmap",
        "hostpronounsmapid int NOT NULL AUTO_INCREMENT,
  hostid int NOT NULL,
  pronounsid int NOT NULL DEFAULT 1,
  PRIMARY KEY (hostpronounsmapid),
  KEY idx_hostpronouns_host (hostid),
  KEY idx_hostpronouns_pronouns (pronounsid),
  CONSTRAINT fk_hostpronouns_host FOREIGN KEY (hostid) REFERENCES ww_hosts (hostid),
  CONSTRAINT fk_hostpronouns_pronouns FOREIGN KEY (pronounsid) REFERENCES ww_pronouns (pronounsid)",
    ),
    (
        "ww_skpronounsmap",
        "skpronounsmapid int NOT NULL AUTO_INCREMENT,
  scorekeeperid int NOT NULL,
  pronounsid int NOT NULL DEFAULT 1,
  PRIMARY KEY (skpronounsmapid),
  KEY idx_skpronouns_scorekeeper (scorekeeperid),
  KEY idx_skpronouns_pronouns (pronounsid),
  CONSTRAINT fk_skpronouns_scorekeeper FOREIGN KEY (scorekeeperid) REFERENCES ww_scorekeepers (scorekeeperid),
  CONSTRAINT fk_skpronouns_pronouns FOREIGN KEY (pronounsid) REFERENCES ww_pronouns (pronounsid)",
    ),
    (
        "ww_panelistpronounsmap",
        "panelistpronounsmapid int NOT NULL AUTO_INCREMENT,
  panelistid int NOT NULL,
  pronounsid int NOT NULL DEFAULT 1,
  PRIMARY KEY (panelistpronounsmapid),
  KEY idx_panelistpronouns_panelist (panelistid),
  KEY idx_panelistpronouns_pronouns (pronounsid),
  CONSTRAINT fk_panelistpronouns_panelist FOREIGN KEY (panelistid) REFERENCES ww_panelists (panelistid),
  CONSTRAINT fk_panelistpronouns_pronouns FOREIGN KEY (pronounsid) REFERENCES ww_pronouns (pronounsid)",
    ),
    (
        "ww_shows",
        "showid int NOT NULL AUTO_INCREMENT,
  showdate date NOT NULL,
  repeatshowid int DEFAULT NULL,
  bestof tinyint(1) NOT NULL DEFAULT 0,
  bestofuniquebluff tinyint(1) NOT NULL DEFAULT 0,
  showurl varchar(500) DEFAULT NULL,
  PRIMARY KEY (showid),
  KEY idx_show_repeat (repeatshowid),
  CONSTRAINT fk_show_repeat FOREIGN KEY (repeatshowid) REFERENCES ww_shows (showid)",
    ),
    (
        "ww_showdescriptions",
        "showid int NOT NULL,
  showdescription text,
  PRIMARY KEY (showid),
  CONSTRAINT fk_showdescription_show FOREIGN KEY (showid) REFERENCES ww_shows (showid)",
    ),
    (
        "ww_shownotes",
        "showid int NOT NULL,
  shownotes text,
  PRIMARY KEY (showid),
  CONSTRAINT fk_shownotes_show FOREIGN KEY (showid) REFERENCES ww_shows (showid)",
    ),
    (
        "ww_showhostmap",
        "showhostmapid int NOT NULL AUTO_INCREMENT,
  showid int NOT NULL,
  hostid int NOT NULL DEFAULT 6,
  guest tinyint(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (showhostmapid),
  KEY idx_showhost_show (showid),
  KEY idx_showhost_host (hostid),
  CONSTRAINT fk_showhost_show FOREIGN KEY (showid) REFERENCES ww_shows (showid),
  CONSTRAINT fk_showhost_host FOREIGN KEY (hostid) REFERENCES ww_hosts (hostid)",
    ),
    (
        "ww_showskmap",
        "showskmapid int NOT NULL AUTO_INCREMENT,
  showid int NOT NULL,
  scorekeeperid int NOT NULL DEFAULT 8,
  guest tinyint(1) NOT NULL DEFAULT 0,
  description varchar(255) DEFAULT NULL,
  PRIMARY KEY (showskmapid),
  KEY idx_showsk_show (showid),
  KEY idx_showsk_scorekeeper (scorekeeperid),
  CONSTRAINT fk_showsk_show FOREIGN KEY (showid) REFERENCES ww_shows (showid),
  CONSTRAINT fk_showsk_scorekeeper FOREIGN KEY (scorekeeperid) REFERENCES ww_scorekeepers (scorekeeperid)",
    ),
    (
        "ww_showlocationmap",
        "showlocationmapid int NOT NULL AUTO_INCREMENT,
  showid int NOT NULL,
  locationid int NOT NULL DEFAULT 3,
  PRIMARY KEY (showlocationmapid),
  KEY idx_showlocation_show (showid),
  KEY idx_showlocation_location (locationid),
  CONSTRAINT fk_showlocation_show FOREIGN KEY (showid) REFERENCES ww_shows (showid),
  CONSTRAINT fk_showlocation_location FOREIGN KEY (locationid) REFERENCES ww_locations (locationid)",
    ),
    (
        "ww_showguestmap",
        "showguestmapid int NOT NULL AUTO_INCREMENT,
  showid int NOT NULL,
  guestid int NOT NULL,
  guestscore int DEFAULT NULL,
  exception tinyint(1) DEFAULT 0,
  PRIMARY KEY (showguestmapid),
  KEY idx_showguest_show (showid),
  KEY idx_showguest_guest (guestid),
  CONSTRAINT fk_showguest_show FOREIGN KEY (showid) REFERENCES ww_shows (showid),
  CONSTRAINT fk_showguest_guest FOREIGN KEY (guestid) REFERENCES ww_guests (guestid)",
    ),
    (
        "ww_showpnlmap",
        "showpnlmapid int NOT NULL AUTO_INCREMENT,
  showid int NOT NULL,
  panelistid int NOT NULL,
  panelistlrndstart int DEFAULT NULL,
  panelistlrndstart_decimal decimal(10,2) DEFAULT NULL,
  panelistlrndcorrect int DEFAULT NULL,
  panelistlrndcorrect_decimal decimal(10,2) DEFAULT NULL,
  panelistscore int DEFAULT NULL,
  panelistscore_decimal decimal(10,2) DEFAULT NULL,
  showpnlrank char(2) DEFAULT '',
  PRIMARY KEY (showpnlmapid),
  KEY idx_showpnl_show (showid),
  KEY idx_showpnl_panelist (panelistid),
  CONSTRAINT fk_showpnl_show FOREIGN KEY (showid) REFERENCES ww_shows (showid),
  CONSTRAINT fk_showpnl_panelist FOREIGN KEY (panelistid) REFERENCES ww_panelists (panelistid)",
    ),
    (
        "ww_showbluffmap",
        "showbluffmapid int NOT NULL AUTO_INCREMENT,
  showid int NOT NULL,
  segment int NOT NULL DEFAULT 1,
  chosenbluffpnlid int DEFAULT NULL,
  correctbluffpnlid int DEFAULT NULL,
  PRIMARY KEY (showbluffmapid),
  KEY idx_showbluff_show (showid),
  KEY idx_showbluff_chosen (chosenbluffpnlid),
  KEY idx_showbluff_correct (correctbluffpnlid),
  CONSTRAINT fk_showbluff_show FOREIGN KEY (showid) REFERENCES ww_shows (showid),
  CONSTRAINT fk_showbluff_chosen FOREIGN KEY (chosenbluffpnlid) REFERENCES ww_panelists (panelistid),
  CONSTRAINT fk_showbluff_correct FOREIGN KEY (correctbluffpnlid) REFERENCES ww_panelists (panelistid)",
    ),
];

/// The names of the 20 tables, in load order.
pub fn table_names() -> impl Iterator<Item = &'static str> {
    TABLES.iter().map(|(name, _)| *name)
}

/// The DDL for every table: `DROP TABLE IF EXISTS` in reverse load order,
/// then `CREATE TABLE` in load order. Run it with foreign key checks off
/// or on an empty database.
pub fn ddl() -> String {
    let mut out = String::new();
    for (name, _) in TABLES.iter().rev() {
        out.push_str(&format!("DROP TABLE IF EXISTS {name};\n"));
    }
    for (name, body) in TABLES {
        out.push_str(&format!(
            "CREATE TABLE {name} (\n  {body}\n) {TABLE_OPTIONS};\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{TABLES, ddl, table_names};

    #[test]
    fn schema_has_twenty_distinct_tables() {
        let mut names: Vec<&str> = table_names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 20);
        assert_eq!(TABLES.len(), 20);
    }

    #[test]
    fn ddl_uses_innodb_and_unicode_collation() {
        let text = ddl();
        assert_eq!(text.matches("CREATE TABLE").count(), 20);
        assert_eq!(
            text.matches("ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci")
                .count(),
            20
        );
    }

    #[test]
    fn foreign_keys_point_at_earlier_tables() {
        for (index, (name, body)) in TABLES.iter().enumerate() {
            for reference in body.split("REFERENCES ").skip(1) {
                let target = reference.split_whitespace().next().unwrap();
                let position = TABLES.iter().position(|(other, _)| *other == target);
                assert!(
                    position.is_some_and(|position| position <= index),
                    "{name} references {target}, which is not created before it"
                );
            }
        }
    }
}
