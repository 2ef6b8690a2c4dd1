//! The Merkle tree the store keeps (complete subtrees of 16 leaves and up), proofs from it,
//! and the signed checkpoints: the latest kept beside the key, never one its records do not
//! extend.

use super::*;

impl NodeSource for Store {
    type Error = CoreError;
    fn node(&self, level: u8, index: u64) -> Result<TreeHash, CoreError> {
        if level == 0 {
            let value = self
                .t
                .records
                .get(pos_key(index))?
                .ok_or_else(|| CoreError::Corrupt(index, "the record is missing".into()))?;
            let (hash, _) = split_value(&value)
                .ok_or_else(|| CoreError::Corrupt(index, "the record is truncated".into()))?;
            return Ok(crate::merkle::leaf_hash(&hash));
        }
        if level < STORED_TREE_LEVEL {
            let left = self.node(level - 1, 2 * index)?;
            let right = self.node(level - 1, 2 * index + 1)?;
            return Ok(crate::merkle::node_hash(&left, &right));
        }
        let v = self.t.merkle.get(node_key(level, index))?.ok_or_else(|| {
            CoreError::Corrupt(
                index << level,
                format!("the Merkle subtree ({level}, {index}) is missing"),
            )
        })?;
        v.as_ref().try_into().map_err(|_| {
            CoreError::Corrupt(
                index << level,
                "a Merkle subtree hash is not 32 bytes".into(),
            )
        })
    }
}

impl Store {
    pub(super) fn check_size(&self, size: u64) -> Result<(), CoreError> {
        let head = self.head().count;
        if size > head {
            return Err(CoreError::Invalid(format!(
                "the ledger holds {head} records; there is no tree of size {size}"
            )));
        }
        Ok(())
    }

    /// The RFC 6962 root of the first `size` records.
    pub fn tree_root(&self, size: u64) -> Result<TreeHash, CoreError> {
        self.check_size(size)?;
        crate::merkle::root(self, size)
    }

    /// The inclusion proof of the record at `index` in the tree of `size` records.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<TreeHash>, CoreError> {
        self.check_size(size)?;
        if index >= size {
            return Err(CoreError::Invalid(format!(
                "position {index} is not in a tree of size {size}"
            )));
        }
        crate::merkle::inclusion_proof(self, index, size)
    }

    /// The consistency proof from the tree of `old` records to the tree of `new` records.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<TreeHash>, CoreError> {
        self.check_size(new)?;
        if old > new {
            return Err(CoreError::Invalid(format!(
                "the old size {old} is larger than the new size {new}"
            )));
        }
        crate::merkle::consistency_proof(self, old, new)
    }

    /// Removes the Merkle subtrees that reach past `from` leaves (staged leftovers).
    pub(super) fn discard_tree_from(&self, from: u64) -> Result<(), CoreError> {
        for level in STORED_TREE_LEVEL..64u8 {
            for item in self
                .t
                .merkle
                .range(node_key(level, from >> level)..=node_key(level, u64::MAX))
            {
                let (key, _) = item?;
                self.t.merkle.remove(key)?;
            }
        }
        Ok(())
    }

    /// Builds the Merkle subtrees a store written before the tree existed (or with another
    /// layout) lacks, once; the `tree` marker in `meta` says which layout the store keeps.
    pub(super) fn ensure_tree(&self, head: Head) -> Result<(), CoreError> {
        if self.t.meta.get("tree")?.as_deref() == Some(TREE_LAYOUT) {
            return Ok(());
        }
        self.t.merkle.clear()?;
        let mut frontier = Frontier::default();
        let mut batch = Vec::new();
        for (n, item) in self.t.records.range(..pos_key(head.count)).enumerate() {
            let (_, value) = item?;
            let (hash, _) = split_value(&value)
                .ok_or_else(|| CoreError::Corrupt(n as u64, "the record is truncated".into()))?;
            for ((level, index), h) in frontier.push(&hash) {
                if level >= STORED_TREE_LEVEL {
                    batch.push((node_key(level, index).to_vec(), h.to_vec()));
                }
            }
            if n % 16_384 == 16_383 {
                self.t.merkle.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        self.t.merkle.apply_batch(batch)?;
        self.t.meta.insert("tree", TREE_LAYOUT)?;
        self.commit_backend()?;
        self.sync_to_disk()?;
        Ok(())
    }

    /// Where the latest signed checkpoint (with its cosignatures) is kept: beside the key,
    /// outside the database, so that it survives a restore into the same folder (on another
    /// engine: a file of the backend's, see [`Backend::read_file`]).
    pub fn checkpoint_path(&self) -> PathBuf {
        self.dir.join(CHECKPOINT_FILE)
    }

    /// The latest checkpoint this store signed, with its cosignatures.
    pub fn latest_checkpoint(&self) -> Result<Option<(Note, Checkpoint)>, CoreError> {
        let Some(bytes) = self.read_kept_file(CHECKPOINT_FILE)? else {
            return Ok(None);
        };
        let bad = |why: String| {
            CoreError::Invalid(format!(
                "the kept checkpoint in {} is unreadable: {why}",
                self.location()
            ))
        };
        let text = String::from_utf8(bytes).map_err(|e| bad(e.to_string()))?;
        let note = Note::parse(&text).map_err(bad)?;
        let checkpoint = Checkpoint::parse_body(&note.text).map_err(bad)?;
        Ok(Some((note, checkpoint)))
    }

    /// Checks that this store extends the checkpoint it signed last: it holds at least that
    /// many records and its tree at that size has that root.
    pub fn check_against_last_checkpoint(&self) -> Result<(), CoreError> {
        let Some((note, last)) = self.latest_checkpoint()? else {
            return Ok(());
        };
        let vkey = self.checkpoint_key()?;
        if !vkey.verify_signature(&note).map_err(CoreError::Invalid)? {
            return Err(CoreError::Invalid(
                "the kept checkpoint is not signed by this ledger's key".into(),
            ));
        }
        let mut head = self.head().count;
        if last.size > head && self.follow()? {
            // Another process appended and signed meanwhile (a ledger several write).
            head = self.head().count;
        }
        if last.size > head {
            return Err(CoreError::Invalid(format!(
                "this ledger holds {head} records but signed a checkpoint of {} before: records are missing (restored from an older export, or rolled back); nothing will be signed",
                last.size
            )));
        }
        if self.tree_root(last.size)? != last.root {
            return Err(CoreError::Invalid(format!(
                "the first {} records no longer have the root this ledger signed: its history was changed; nothing will be signed",
                last.size
            )));
        }
        Ok(())
    }

    /// Signs a checkpoint of the durable head, unless the latest one already covers it, and
    /// never one inconsistent with the latest. Returns the latest checkpoint note.
    ///
    /// A follower's copy ([`Store::init_follower`]) signs nothing: it answers the leader's
    /// latest checkpoint it accepted.
    pub fn sign_checkpoint(&self) -> Result<Note, CoreError> {
        if self.leader_key()?.is_some() {
            return match self.latest_checkpoint()? {
                Some((note, _)) => Ok(note),
                None => Err(CoreError::Invalid(
                    "this copy follows another ledger and has accepted none of its checkpoints yet: wait for the follower to catch up".into(),
                )),
            };
        }
        let _one_at_a_time = lock(&self.checkpoint_lock);
        // Sign what the ledger holds, other processes' records included.
        self.follow()?;
        self.check_against_last_checkpoint()?;
        let head = self.head().count;
        if let Some((note, last)) = self.latest_checkpoint()? {
            if last.size == head {
                return Ok(note);
            }
        }
        let key = self.signing_key()?;
        let checkpoint = Checkpoint {
            origin: key.name.clone(),
            size: head,
            root: self.tree_root(head)?,
        };
        let text = checkpoint.body();
        let note = Note {
            signatures: vec![crate::note::sign(&key, &text)],
            text,
        };
        self.write_kept_file(CHECKPOINT_FILE, note.to_text().as_bytes(), false)?;
        Ok(note)
    }

    /// Adds the cosignature lines of `cosigned` (the latest checkpoint cosigned by a witness,
    /// or only the lines the witness printed) to the kept checkpoint. Every line must be a valid
    /// cosignature of this checkpoint by one of `witnesses`.
    pub fn add_cosignatures(
        &self,
        cosigned: &str,
        witnesses: &[VerifierKey],
    ) -> Result<Note, CoreError> {
        let _one_at_a_time = lock(&self.checkpoint_lock);
        let Some((mut note, _)) = self.latest_checkpoint()? else {
            return Err(CoreError::Invalid(
                "this ledger has signed no checkpoint yet".into(),
            ));
        };
        // Either the whole cosigned note, or only the cosignature lines a witness printed.
        let incoming = if cosigned.starts_with('\u{2014}') {
            Note::parse(&format!("{}\n{cosigned}", note.text))
        } else {
            Note::parse(cosigned)
        }
        .map_err(|e| {
            CoreError::Invalid(format!(
                "not a cosigned checkpoint or cosignature lines: {e}"
            ))
        })?;
        if incoming.text != note.text {
            return Err(CoreError::Invalid(
                "the cosigned checkpoint is not this ledger's latest checkpoint".into(),
            ));
        }
        let origin = note
            .signatures
            .first()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let lines: Vec<_> = incoming
            .signatures
            .into_iter()
            .filter(|s| s.name != origin)
            .collect();
        if lines.is_empty() {
            return Err(CoreError::Invalid("no cosignature to add".into()));
        }
        for line in &lines {
            let key = witnesses
                .iter()
                .find(|k| k.name == line.name && Some(k.id) == line.key_id())
                .ok_or_else(|| {
                    CoreError::Invalid(format!(
                        "{} is not a known witness: pass its verifier key",
                        line.name
                    ))
                })?;
            let single = Note {
                text: note.text.clone(),
                signatures: vec![line.clone()],
            };
            key.verify_cosignature(&single)
                .map_err(|e| CoreError::Invalid(format!("{e} (is it for this checkpoint?)")))?;
        }
        note.add(lines);
        self.write_kept_file(CHECKPOINT_FILE, note.to_text().as_bytes(), false)?;
        Ok(note)
    }
}

/// The name of the kept checkpoint file (see [`Store::checkpoint_path`]).
pub(super) const CHECKPOINT_FILE: &str = "checkpoint";

/// In a follower's copy: the verifier key of the ledger it follows (one line, C2SP vkey).
pub(super) const LEADER_KEY_FILE: &str = "leader.vkey";

impl Store {
    /// Makes an empty folder a follower's copy of the ledger `leader` signs: a store of that
    /// origin that signs no checkpoint of its own, keeps the leader's (checked with `leader`),
    /// and takes records only by [`Store::replicate`].
    ///
    /// With `view`, the copy holds that role's view of the ledger (see [`Store::view`]); with
    /// `None`, every record whole (the follower's token must read everything: admin).
    pub fn init_follower(
        dir: &Path,
        leader: &str,
        view: Option<crate::catalogue::AccessRole>,
    ) -> Result<Store, CoreError> {
        let key = VerifierKey::parse(leader).map_err(CoreError::Invalid)?;
        let store = Store::init(dir, &key.name)?;
        store.become_follower(leader, view)?;
        Ok(store)
    }

    /// Makes this empty store a follower's copy of the ledger `leader` signs (what
    /// [`Store::init_follower`] does after `init`; also for a folder whose making was cut off
    /// between the two). A store that holds records, or follows already, is refused.
    pub fn become_follower(
        &self,
        leader: &str,
        view: Option<crate::catalogue::AccessRole>,
    ) -> Result<(), CoreError> {
        VerifierKey::parse(leader).map_err(CoreError::Invalid)?;
        if self.head().count > 0 || self.leader_key()?.is_some() {
            return Err(CoreError::Invalid(format!(
                "{} holds a ledger of its own or follows one already: follow into a new folder",
                self.location()
            )));
        }
        if !self.is_folder() {
            return Err(CoreError::Invalid(
                "a follower keeps its copy in a folder (--data DIR), not in a database".into(),
            ));
        }
        // The view first: the leader's key file is what makes the folder a follower's copy, so
        // a cut-off here leaves an empty store that the next follow makes again.
        match view {
            Some(role) => self.t.meta.insert(META_VIEW, role.as_str().as_bytes())?,
            None => self.t.meta.remove(META_VIEW)?,
        }
        self.sync_to_disk()?;
        *self
            .view
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = view;
        self.write_kept_file(
            LEADER_KEY_FILE,
            format!("{}\n", leader.trim()).as_bytes(),
            true,
        )
    }

    /// The verifier key a folder's checkpoints are signed with (the leader's, for a follower's
    /// copy), read from its files without opening the store: it works while a server holds the
    /// folder. `None` when the folder has no key yet (opening it makes one).
    pub fn verifier_key_in_folder(dir: &Path) -> Result<Option<String>, CoreError> {
        let read = |path: PathBuf| match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CoreError::Key {
                path,
                why: e.to_string(),
            }),
        };
        let leader = dir.join(LEADER_KEY_FILE);
        if let Some(text) = read(leader.clone())? {
            VerifierKey::parse(&text).map_err(|why| CoreError::Key { path: leader, why })?;
            return Ok(Some(text.trim().to_owned()));
        }
        let path = key_path(dir);
        match read(path.clone())? {
            None => Ok(None),
            Some(text) => LedgerKey::from_file_text(&text)
                .map(|key| Some(key.verifier_key()))
                .map_err(|why| CoreError::Key { path, why }),
        }
    }

    /// The role whose view of the ledger this copy holds: a follower's copy made with a token
    /// of that role. Records the role may not see are held *withheld* (their place in the
    /// chain only), and personal data it may not see is not held (not erased: never had).
    /// `None`: the store holds every record whole (a ledger of its own, or an admin's copy).
    pub fn view(&self) -> Option<crate::catalogue::AccessRole> {
        *self
            .view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How this store holds a record of `event_type` in `stream`: withheld, or whole with or
    /// without its personal data (see [`Store::view`]).
    pub fn held_as(&self, stream: &str, event_type: EventType) -> crate::access::Shown {
        match self.view() {
            None => crate::access::Shown::Record { personal: true },
            Some(role) => crate::access::shown_in(role, stream, event_type),
        }
    }

    /// The verifier key of the ledger this store follows; `None` for a ledger of its own.
    pub fn leader_key(&self) -> Result<Option<VerifierKey>, CoreError> {
        match self.read_kept_file(LEADER_KEY_FILE)? {
            None => Ok(None),
            Some(bytes) => VerifierKey::parse(&String::from_utf8_lossy(&bytes))
                .map(Some)
                .map_err(|why| {
                    CoreError::Invalid(format!("{LEADER_KEY_FILE} in {}: {why}", self.location()))
                }),
        }
    }

    /// The key checkpoints kept here are signed with: the leader's for a follower's copy,
    /// this ledger's own otherwise.
    fn checkpoint_key(&self) -> Result<VerifierKey, CoreError> {
        match self.leader_key()? {
            Some(key) => Ok(key),
            None => {
                VerifierKey::parse(&self.signing_key()?.verifier_key()).map_err(CoreError::Invalid)
            }
        }
    }
}

impl Store {
    /// A file kept with the ledger: in its folder, or the backend's.
    pub(super) fn read_kept_file(&self, name: &str) -> Result<Option<Vec<u8>>, CoreError> {
        match &self.engine {
            Engine::Backend(backend) => backend.read_file(name),
            Engine::Sled(_) => match std::fs::read(self.dir.join(name)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// Replaces (or creates, mode 0600 when `private`) a file kept with the ledger, durably.
    pub(super) fn write_kept_file(
        &self,
        name: &str,
        content: &[u8],
        private: bool,
    ) -> Result<(), CoreError> {
        match &self.engine {
            Engine::Backend(backend) => backend.write_file(name, content),
            Engine::Sled(_) if private => Ok(files::create_private(&self.dir.join(name), content)?),
            Engine::Sled(_) => Ok(files::replace(&self.dir.join(name), content)?),
        }
    }
}

impl Store {
    /// Keeps `note` (a checkpoint this ledger's key signed, with any cosignatures) as the
    /// latest checkpoint, after checking its signature and that this store's tree has its
    /// root at its size (what a copy of a ledger does with the original's last checkpoint).
    ///
    /// Never one smaller than the latest kept: that would be a rewind of the ledger.
    pub fn adopt_checkpoint(&self, note: &Note) -> Result<(), CoreError> {
        let _one_at_a_time = lock(&self.checkpoint_lock);
        let checkpoint = Checkpoint::parse_body(&note.text).map_err(CoreError::Invalid)?;
        let vkey = self.checkpoint_key()?;
        if !vkey.verify_signature(note).map_err(CoreError::Invalid)? {
            return Err(CoreError::Invalid(format!(
                "the checkpoint is not signed by this ledger's key ({})",
                vkey.name
            )));
        }
        if let Some((_, latest)) = self.latest_checkpoint()? {
            if checkpoint.size < latest.size {
                return Err(CoreError::Invalid(format!(
                    "the checkpoint is of {} records, the latest kept of {}: the ledger was rewound",
                    checkpoint.size, latest.size
                )));
            }
        }
        if checkpoint.size > self.head().count
            || self.tree_root(checkpoint.size)? != checkpoint.root
        {
            return Err(CoreError::Invalid(format!(
                "this ledger does not have the checkpoint's root at size {}",
                checkpoint.size
            )));
        }
        self.write_kept_file(CHECKPOINT_FILE, note.to_text().as_bytes(), false)
    }

    /// Copies this ledger into `target`, an empty store with this ledger's signing key: every
    /// record as `restore` takes an export (checked as it is), then the kept checkpoint. Returns
    /// what the copy verified.
    pub fn copy_into(
        &self,
        target: &Store,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Verified, CoreError> {
        if target.signing_key()?.verifier_key() != self.signing_key()?.verifier_key() {
            return Err(CoreError::Invalid(
                "the copy must be made with this ledger's signing key".into(),
            ));
        }
        let (reader, mut writer) = std::io::pipe()?;
        let head = self.head().count;
        let verified = std::thread::scope(|scope| {
            let writing = scope.spawn(move || -> Result<(), CoreError> {
                let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut writer);
                for record in self.records_between(0, head) {
                    let mut line = self.export_line(&record?, true)?;
                    line.push(b'\n');
                    if out.write_all(&line).is_err() {
                        // The reading side stopped: its error is the one to report.
                        return Ok(());
                    }
                }
                out.flush()?;
                Ok(())
            });
            let restored =
                target.restore(std::io::BufReader::with_capacity(1 << 20, reader), progress);
            let written = writing
                .join()
                .unwrap_or_else(|_| Err(CoreError::Invalid("the export thread failed".into())));
            written.and(restored)
        })?;
        if let Some((note, _)) = self.latest_checkpoint()? {
            target.adopt_checkpoint(&note)?;
        }
        Ok(verified)
    }
}
