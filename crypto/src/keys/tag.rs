//! Deterministic keyed tags of short values (e.g. a file name for a uniqueness index).
//!
//! `tag = HMAC-SHA256(tag_key, u32 BE len(context) ‖ context ‖ value)` where
//! `tag_key = HMAC-SHA256(case_key, "casevault/v1/tag-key")`: a key separate from the AEAD
//! use of the case key. Equal inputs give equal tags within one case and unrelated tags
//! across cases; without the case key a tag reveals nothing about the value.

use aws_lc_rs::hmac;

use super::CaseKey;

impl CaseKey {
    /// The keyed tag of `value` under `context`.
    pub fn tag(&self, context: &[u8], value: &[u8]) -> [u8; 32] {
        let derive = hmac::Key::new(hmac::HMAC_SHA256, &self.key);
        let tag_key = hmac::sign(&derive, b"casevault/v1/tag-key");
        let key = hmac::Key::new(hmac::HMAC_SHA256, tag_key.as_ref());
        let mut ctx = hmac::Context::with_key(&key);
        let context_len = u32::try_from(context.len()).unwrap_or(u32::MAX);
        ctx.update(&context_len.to_be_bytes());
        ctx.update(context);
        ctx.update(value);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_deterministic_keyed_and_context_bound() {
        let key = CaseKey::generate();
        let other = CaseKey::generate();
        assert_eq!(key.tag(b"name", b"scan.stl"), key.tag(b"name", b"scan.stl"));
        assert_ne!(key.tag(b"name", b"scan.stl"), key.tag(b"name", b"scan.ply"));
        assert_ne!(
            key.tag(b"name", b"scan.stl"),
            other.tag(b"name", b"scan.stl")
        );
        assert_ne!(key.tag(b"name", b"scan.stl"), key.tag(b"note", b"scan.stl"));
        // The context length prefix keeps (context, value) splits apart.
        assert_ne!(key.tag(b"ab", b"c"), key.tag(b"a", b"bc"));
    }
}
