//! The community data file (`shared/spec/fixture.md` format): import, export, seed.
