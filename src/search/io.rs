//! Saved and memory-mapped indexes: [`FlatIndex::save`], [`FlatIndex::load`],
//! [`FlatIndex::open_mmap`] and [`FlatIndex::from_npy`], the manifest, and the
//! `.npy` files (headers through `ndarray-npy`, data as raw little-endian bytes
//! viewed in place). The folder's layout is documented once, in the search
//! module's "Saved and memory-mapped indexes".
//!
//! A save goes through `save.rs`: the folder is written under a temporary name
//! beside `path`, synced, and swapped into place atomically.

use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use ndarray::Array2;
use ndarray_npy::npy::header::{Header, Layout};
use py_literal::Value as PyValue;

use super::index::{FlatIndex, Ids};
use super::metric::Metric;
use super::save::{save_folder, write_file};
use super::storage::{Mapped, StoredScalar, Vectors};
use super::topk::PADDING;
use crate::InnerError;

/// The manifest's name inside an index folder.
const MANIFEST: &str = "flatindex.txt";
/// Its first line.
const FORMAT_NAME: &str = "ndarray-inner FlatIndex";
/// The layout this code writes and reads.
const FORMAT_VERSION: u32 = 1;
const VECTORS: &str = "vectors.npy";
const NORMS: &str = "norms.npy";
const IDS: &str = "ids.npy";

impl<S: StoredScalar> FlatIndex<S> {
    /// Saves the index to the folder `path` (see the layout in the
    /// [module documentation](super#saved-and-memory-mapped-indexes)): the rows,
    /// their ids, their norms and the metric, so that [`load`](FlatIndex::load)
    /// and [`open_mmap`](FlatIndex::open_mmap) give back an index that answers
    /// every search exactly as this one does.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let dir = std::env::temp_dir().join(format!("ndi-doc-save-{}", std::process::id()));
    /// let index = FlatIndex::with_ids(array![[1.0f32, 0.0], [0.6, 0.8]], vec![7, 9], Metric::Cosine)?;
    /// index.save(&dir)?;
    /// let loaded = FlatIndex::<f32>::load(&dir)?;
    /// let query = array![0.0f32, 1.0];
    /// assert_eq!(loaded.search(&query, 2)?, index.search(&query, 2)?);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InnerError::Io`] naming the path when a file cannot be written (no
    /// room, no permission, no parent folder), or when `path` exists and is not
    /// a saved index (it is never overwritten then). Whatever fails, no file is
    /// left at `path` that [`load`](FlatIndex::load) would accept as this index.
    ///
    /// # Performance
    ///
    /// One sequential write of the rows (`N·d` elements), the norms and ids, and
    /// an `fsync` of each file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), InnerError> {
        let replaceable = |path: &Path| {
            if path.join(MANIFEST).is_file() {
                Ok(())
            } else {
                Err(InnerError::Io {
                    path: path.to_path_buf(),
                    kind: std::io::ErrorKind::AlreadyExists,
                    message: format!("exists and is not a saved FlatIndex (no {MANIFEST}): not overwritten"),
                })
            }
        };
        save_folder(path.as_ref(), replaceable, |dir| self.write_folder(dir))
    }

    /// Loads an index saved by [`save`](FlatIndex::save) into memory; it can
    /// then change like any other.
    ///
    /// ```
    /// use half::f16;
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let dir = std::env::temp_dir().join(format!("ndi-doc-load-{}", std::process::id()));
    /// let rows = array![[1.0f32, 2.0], [3.0, 4.0]].mapv(f16::from_f32);
    /// FlatIndex::new(rows, Metric::L2).save(&dir)?;
    /// let mut index = FlatIndex::<f16>::load(&dir)?;
    /// index.add(&array![[5.0f32, 6.0]].mapv(f16::from_f32))?;
    /// assert_eq!(index.search(&array![5.0f32, 6.5], 1)?.indices, array![[2]]);
    /// // Another element type is an error that says which one the folder holds.
    /// let err = FlatIndex::<f32>::load(&dir).unwrap_err();
    /// assert!(err.to_string().ends_with("holds f16 vectors, not f32: open it as FlatIndex::<f16>"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InnerError::Io`] when a file cannot be read (naming it);
    /// [`InnerError::BadFile`] naming the file when it is not what a saved index
    /// holds: no manifest, another format or version, another element type (the
    /// message names the one it holds), a truncated or reshaped `vectors.npy`,
    /// norms or ids of the wrong length, a repeated or reserved id.
    ///
    /// # Performance
    ///
    /// One sequential read of the files, no norms recomputed; `O(N)` to check
    /// the ids.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, InnerError> {
        let path = path.as_ref();
        let manifest = Manifest::read::<S>(path)?;
        let vectors_path = path.join(VECTORS);
        let (mut reader, npy) = open_npy(&vectors_path, Element::of::<S>())?;
        npy.expect_shape(&vectors_path, &[manifest.rows, manifest.dim])?;
        if npy.fortran {
            return Err(InnerError::bad_file(
                &vectors_path,
                "the rows are in Fortran order; a saved index is C order",
            ));
        }
        let data = read_elements::<S>(&mut reader, &vectors_path, npy.len())?;
        manifest.assemble(path, Vectors::Owned(data))
    }

    /// Opens an index saved by [`save`](FlatIndex::save) with its rows mapped
    /// from `vectors.npy` instead of read: opening costs `O(N)` whatever `d`,
    /// only the norms and ids are read into memory, and the operating system
    /// pages the rows in as searches read them (and out again when memory is
    /// short), so a database larger than memory can be searched. Every search
    /// gives the answers of the loaded index. The index is read-only:
    /// [`add`](FlatIndex::add), [`add_with_ids`](FlatIndex::add_with_ids) and
    /// [`remove_ids`](FlatIndex::remove_ids) return [`InnerError::ReadOnly`].
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    /// use ndarray_inner::InnerError;
    ///
    /// let dir = std::env::temp_dir().join(format!("ndi-doc-mmap-{}", std::process::id()));
    /// FlatIndex::new(array![[1.0f32, 0.0], [0.0, 1.0]], Metric::InnerProduct).save(&dir)?;
    /// let mut index = FlatIndex::<f32>::open_mmap(&dir)?;
    /// assert_eq!(index.search(&array![0.2f32, 0.9], 1)?.indices, array![[1]]);
    /// assert!(matches!(index.add(&array![[1.0, 1.0]]), Err(InnerError::ReadOnly { .. })));
    /// # drop(index);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # The file must not change while it is mapped
    ///
    /// The rows are read from the file's pages for as long as the index (or a
    /// clone of it) lives. Another process that writes to `vectors.npy` in the
    /// meantime changes the rows under the index, and searches may return
    /// scores of neither the old nor the new rows; one that truncates it makes
    /// the next read of a lost page kill the process (`SIGBUS`). Replace a saved
    /// index with [`save`](FlatIndex::save), which writes a new folder and renames
    /// it into place: the mapped file itself is never written, and stays readable
    /// until the index is dropped.
    ///
    /// # Errors
    ///
    /// As [`load`](FlatIndex::load), and [`InnerError::BadFile`] when the rows'
    /// data in the file is not aligned for the element type (a `.npy` written by
    /// NumPy or by `save` always is).
    ///
    /// # Performance
    ///
    /// Searches read the rows from the page cache at the speed of the loaded
    /// index once the pages are there; a cold search also reads them from disk.
    /// The anonymous memory of the index is its norms (one element per row) and
    /// ids (8 bytes per row, with ids), plus, once
    /// [`contains_id`](FlatIndex::contains_id) is asked, a map from ids to rows.
    pub fn open_mmap(path: impl AsRef<Path>) -> Result<Self, InnerError> {
        let path = path.as_ref();
        let manifest = Manifest::read::<S>(path)?;
        let vectors_path = path.join(VECTORS);
        let file = File::open(&vectors_path).map_err(|e| InnerError::io(&vectors_path, &e))?;
        // SAFETY: mapping a file is unsafe because the memory changes if the
        // file does: another process writing `vectors.npy` while it is mapped
        // changes the rows under the index (searches may see a mix of old and new
        // values), and truncating it turns reads of the lost pages into SIGBUS.
        // The index only ever reads the mapping, as `f32`/`f64`/`f16`/`bf16`
        // values, for which every bit pattern is valid; the docs of `open_mmap`
        // ("The file must not change while it is mapped") warn users, and `save`
        // never writes into an existing file (it renames a new folder into place).
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| InnerError::io(&vectors_path, &e))?;
        let mut cursor = std::io::Cursor::new(&map[..]);
        let npy = NpyData::read_header(&mut cursor, &vectors_path, map.len() as u64, Element::of::<S>())?;
        npy.expect_shape(&vectors_path, &[manifest.rows, manifest.dim])?;
        if npy.fortran {
            return Err(InnerError::bad_file(
                &vectors_path,
                "the rows are in Fortran order; open_mmap needs C order",
            ));
        }
        let offset = cursor.position() as usize;
        let bytes = npy.len() * std::mem::size_of::<S>();
        if map.len() - offset != bytes {
            return Err(truncated(&vectors_path, bytes, map.len() - offset));
        }
        if S::cast_bytes(&map[offset..]).is_none() {
            return Err(InnerError::bad_file(
                &vectors_path,
                format!("the data starts at byte {offset}, not aligned for {}", S::NAME),
            ));
        }
        // Rows are read in order by every search: let the kernel read ahead.
        let _ = map.advise(memmap2::Advice::Sequential);
        let mapped = Mapped {
            map: Arc::new(map),
            offset,
            bytes,
            path: vectors_path,
        };
        manifest.assemble(path, Vectors::Mapped(mapped))
    }

    /// An index over the rows of a 2-D `.npy` file, such as NumPy's
    /// `np.save(path, vectors.astype(np.float32))`, with ids `0..N`: the
    /// element type must be the index's (`float32` for `FlatIndex<f32>`,
    /// `float64`, `float16` for `FlatIndex<f16>`, and for `FlatIndex<bf16>` the
    /// bits as `uint16`, `x.view(np.uint16)`). C or Fortran order.
    ///
    /// ```
    /// use ndarray::array;
    /// use ndarray_inner::search::{FlatIndex, Metric};
    ///
    /// let file = std::env::temp_dir().join(format!("ndi-doc-npy-{}.npy", std::process::id()));
    /// ndarray_npy::write_npy(&file, &array![[1.0f32, 0.0], [0.0, 1.0]]).unwrap();
    /// let index = FlatIndex::<f32>::from_npy(&file, Metric::L2)?;
    /// assert_eq!(index.search(&array![0.1f32, 0.9], 1)?.indices, array![[1]]);
    /// let err = FlatIndex::<f64>::from_npy(&file, Metric::L2).unwrap_err();
    /// assert!(err.to_string().ends_with("holds '<f4' elements, not f64 ('<f8')"));
    /// # std::fs::remove_file(&file).unwrap();
    /// # Ok::<(), ndarray_inner::InnerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InnerError::Io`] when the file cannot be read; [`InnerError::BadFile`]
    /// naming it when it is not a `.npy` file, holds another element type or a
    /// big-endian one, is not 2-D, or is truncated.
    ///
    /// # Performance
    ///
    /// One read of the file, and for cosine and L2 the norms, `O(N·d)`; a
    /// Fortran-order file is also copied once into C order.
    pub fn from_npy(path: impl AsRef<Path>, metric: Metric) -> Result<Self, InnerError> {
        let path = path.as_ref();
        let (mut reader, npy) = open_npy(path, Element::of::<S>())?;
        let [rows, dim] = npy.shape[..] else {
            return Err(InnerError::bad_file(
                path,
                format!(
                    "holds an array of shape {}, not a 2-D (rows, d) one",
                    fmt_shape(&npy.shape)
                ),
            ));
        };
        let data = read_elements::<S>(&mut reader, path, npy.len())?;
        let array = if npy.fortran {
            Array2::from_shape_vec(ndarray::ShapeBuilder::f((rows, dim)), data)
        } else {
            Array2::from_shape_vec((rows, dim), data)
        }
        .map_err(|e| InnerError::bad_file(path, e.to_string()))?;
        Ok(FlatIndex::new(array, metric))
    }

    /// The folder's files, written and synced, the manifest last.
    fn write_folder(&self, dir: &Path) -> Result<(), InnerError> {
        let (rows, dim) = (self.len(), self.dim());
        write_npy_bytes(
            &dir.join(VECTORS),
            S::NPY_DESCR,
            &[rows, dim],
            S::as_bytes(self.database_slice()),
        )?;
        if self.metric().uses_norms() {
            write_npy_bytes(
                &dir.join(NORMS),
                <S::Compute as StoredScalar>::NPY_DESCR,
                &[rows],
                <S::Compute as StoredScalar>::as_bytes(self.norms_slice()),
            )?;
        }
        let next_id = match self.ids_ref() {
            Ids::Rows => None,
            Ids::Map { ids, next, .. } => {
                let ids64: Vec<u64> = ids.iter().map(|&id| id as u64).collect();
                write_npy_bytes(&dir.join(IDS), "<u8", &[rows], bytemuck::cast_slice(&ids64))?;
                Some(*next)
            }
        };
        let mut text = format!(
            "{FORMAT_NAME}\nformat_version = {FORMAT_VERSION}\nelement = {}\nmetric = {}\nrows = {rows}\ndim = {dim}\n",
            S::NAME,
            metric_name(self.metric()),
        );
        match next_id {
            None => text.push_str("ids = rows\n"),
            Some(next) => text.push_str(&format!("ids = {IDS}\nnext_id = {next}\n")),
        }
        // Last: a folder without its manifest is never taken for an index.
        write_file(&dir.join(MANIFEST), &[text.as_bytes()])
    }
}

/// The parsed `flatindex.txt` of a folder.
struct Manifest {
    metric: Metric,
    rows: usize,
    dim: usize,
    /// `Some(next_id)` when the folder has `ids.npy`.
    next_id: Option<usize>,
}

impl Manifest {
    /// Reads and checks the manifest of the folder `dir` for elements `S`.
    fn read<S: StoredScalar>(dir: &Path) -> Result<Self, InnerError> {
        let path = dir.join(MANIFEST);
        let text = fs::read_to_string(&path).map_err(|e| InnerError::io(&path, &e))?;
        let bad = |reason: String| InnerError::bad_file(&path, reason);
        let mut lines = text.lines();
        if lines.next() != Some(FORMAT_NAME) {
            return Err(bad(format!(
                "not a saved FlatIndex (its first line is not {FORMAT_NAME:?})"
            )));
        }
        let mut fields = std::collections::HashMap::new();
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| bad(format!("unreadable line {line:?}")))?;
            fields.insert(key.trim(), value.trim());
        }
        let field = |key: &str| fields.get(key).copied().ok_or_else(|| bad(format!("no {key} line")));
        let number = |key: &str| -> Result<usize, InnerError> {
            let v = field(key)?;
            v.parse().map_err(|_| bad(format!("{key} = {v:?} is not a number")))
        };
        let version = number("format_version")?;
        if version != FORMAT_VERSION as usize {
            return Err(bad(format!(
                "format version {version}; this version of ndarray-inner reads version {FORMAT_VERSION}"
            )));
        }
        let element = field("element")?;
        if element != S::NAME {
            return Err(bad(format!(
                "holds {element} vectors, not {}: open it as FlatIndex::<{element}>",
                S::NAME
            )));
        }
        let metric = match field("metric")? {
            "inner_product" => Metric::InnerProduct,
            "cosine" => Metric::Cosine,
            "l2" => Metric::L2,
            other => return Err(bad(format!("unknown metric {other:?}"))),
        };
        let next_id = match field("ids")? {
            "rows" => None,
            IDS => Some(number("next_id")?),
            other => return Err(bad(format!("ids = {other:?}: expected rows or {IDS}"))),
        };
        Ok(Manifest {
            metric,
            rows: number("rows")?,
            dim: number("dim")?,
            next_id,
        })
    }

    /// The index of folder `dir` over `data`, with the folder's norms and ids.
    fn assemble<S: StoredScalar>(&self, dir: &Path, data: Vectors<S>) -> Result<FlatIndex<S>, InnerError> {
        let norms = if self.metric.uses_norms() {
            read_vector::<S::Compute>(&dir.join(NORMS), self.rows)?
        } else {
            Vec::new()
        };
        let ids = match self.next_id {
            None => Ids::Rows,
            Some(next) => {
                let path = dir.join(IDS);
                let ids: Vec<usize> = read_ids(&path, self.rows)?
                    .into_iter()
                    .map(|id| usize::try_from(id).unwrap_or(PADDING))
                    .collect();
                check_ids(&path, &ids, next)?;
                Ids::Map {
                    ids,
                    rows: OnceLock::new(),
                    next,
                }
            }
        };
        Ok(FlatIndex::from_parts(
            data,
            self.rows,
            self.dim,
            self.metric,
            norms,
            ids,
        ))
    }
}

/// Ids read from `path`: none reserved, none repeated, all below `next`.
fn check_ids(path: &Path, ids: &[usize], next: usize) -> Result<(), InnerError> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    if let Some(&id) = sorted.iter().find(|&&id| id == PADDING || id >= next) {
        return Err(InnerError::bad_file(
            path,
            format!("id {id} is reserved or not below next_id = {next}"),
        ));
    }
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(InnerError::bad_file(path, format!("id {} is given twice", w[0])));
    }
    Ok(())
}

/// What a `.npy` file must hold: its type descriptor, the element's name in
/// messages, and the element's size.
#[derive(Clone, Copy)]
struct Element {
    descr: &'static str,
    name: &'static str,
    size: usize,
}

impl Element {
    fn of<S: StoredScalar>() -> Self {
        Element {
            descr: S::NPY_DESCR,
            name: S::NAME,
            size: std::mem::size_of::<S>(),
        }
    }

    /// The ids' `u64`.
    const ID: Element = Element {
        descr: "<u8",
        name: "u64",
        size: 8,
    };
}

/// The header of a `.npy` file, checked for its element type.
struct NpyData {
    shape: Vec<usize>,
    fortran: bool,
}

impl NpyData {
    /// Reads and checks the header from `reader` (at the file's start; left at
    /// the data's start), for a file of `file_len` bytes.
    fn read_header(reader: &mut impl Read, path: &Path, file_len: u64, element: Element) -> Result<Self, InnerError> {
        let header =
            Header::from_reader(reader).map_err(|e| InnerError::bad_file(path, format!("not a .npy file: {e}")))?;
        let descr = match &header.type_descriptor {
            PyValue::String(s) => s.clone(),
            other => format!("{other}"),
        };
        // '|' is NumPy's "byte order not applicable" (1-byte types), '=' native.
        let native = descr.replacen(['=', '|'], "<", 1);
        if native != element.descr || cfg!(target_endian = "big") {
            let hint = if descr.starts_with('>') {
                " (big-endian: save it little-endian, x.astype(x.dtype.newbyteorder('<')))"
            } else {
                ""
            };
            return Err(InnerError::bad_file(
                path,
                format!(
                    "holds '{descr}' elements, not {} ('{}'){hint}",
                    element.name, element.descr
                ),
            ));
        }
        let npy = NpyData {
            shape: header.shape,
            fortran: matches!(header.layout, Layout::Fortran),
        };
        let bytes = npy.len_checked().and_then(|n| n.checked_mul(element.size));
        match bytes {
            Some(b) if (b as u64) <= file_len => Ok(npy),
            _ => Err(InnerError::bad_file(
                path,
                format!(
                    "is truncated: an array of shape {} does not fit in its {file_len} bytes",
                    fmt_shape(&npy.shape)
                ),
            )),
        }
    }

    fn len_checked(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// The element count (checked against the file's size when read).
    fn len(&self) -> usize {
        self.len_checked().expect("checked by read_header")
    }

    fn expect_shape(&self, path: &Path, shape: &[usize]) -> Result<(), InnerError> {
        if self.shape != shape {
            return Err(InnerError::bad_file(
                path,
                format!(
                    "holds an array of shape {}, the manifest says {}",
                    fmt_shape(&self.shape),
                    fmt_shape(shape)
                ),
            ));
        }
        Ok(())
    }
}

/// The error of a file whose data is shorter or longer than its header says.
fn truncated(path: &Path, expected: usize, found: usize) -> InnerError {
    let what = if found < expected {
        "is truncated"
    } else {
        "has extra bytes"
    };
    InnerError::bad_file(
        path,
        format!("{what}: its header needs {expected} bytes of data, it has {found}"),
    )
}

/// Reads exactly `len` elements (all the rest of the file) into a new vector.
fn read_elements<S: StoredScalar>(reader: &mut impl Read, path: &Path, len: usize) -> Result<Vec<S>, InnerError> {
    let mut data = Vec::new();
    data.try_reserve_exact(len)
        .map_err(|_| InnerError::bad_file(path, format!("{len} elements do not fit in memory")))?;
    data.resize(len, S::default());
    read_data(reader, path, S::as_bytes_mut(&mut data))?;
    Ok(data)
}

/// Fills `buf` from `reader` and checks that nothing follows.
fn read_data(reader: &mut impl Read, path: &Path, buf: &mut [u8]) -> Result<(), InnerError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Err(truncated(path, buf.len(), filled)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(InnerError::io(path, &e)),
        }
    }
    let mut extra = [0u8; 1];
    match reader.read(&mut extra) {
        Ok(0) => Ok(()),
        Ok(_) => Err(truncated(path, buf.len(), buf.len() + 1)),
        Err(e) => Err(InnerError::io(path, &e)),
    }
}

/// A 1-D `.npy` file of `len` elements, as a vector.
fn read_vector<S: StoredScalar>(path: &Path, len: usize) -> Result<Vec<S>, InnerError> {
    let (mut reader, npy) = open_npy(path, Element::of::<S>())?;
    npy.expect_shape(path, &[len])?;
    read_elements(&mut reader, path, len)
}

/// The ids file: `len` `u64`s.
fn read_ids(path: &Path, len: usize) -> Result<Vec<u64>, InnerError> {
    let (mut reader, npy) = open_npy(path, Element::ID)?;
    npy.expect_shape(path, &[len])?;
    let mut ids = vec![0u64; len];
    read_data(&mut reader, path, bytemuck::cast_slice_mut(&mut ids))?;
    if cfg!(target_endian = "big") {
        ids.iter_mut().for_each(|id| *id = u64::from_le(*id));
    }
    Ok(ids)
}

/// `path` opened, its header read and checked.
fn open_npy(path: &Path, element: Element) -> Result<(BufReader<File>, NpyData), InnerError> {
    let file = File::open(path).map_err(|e| InnerError::io(path, &e))?;
    let file_len = file.metadata().map_err(|e| InnerError::io(path, &e))?.len();
    let mut reader = BufReader::new(file);
    let npy = NpyData::read_header(&mut reader, path, file_len, element)?;
    Ok((reader, npy))
}

/// Writes a C-order `.npy` file of `shape` whose data is `bytes`, synced.
fn write_npy_bytes(path: &Path, descr: &str, shape: &[usize], bytes: &[u8]) -> Result<(), InnerError> {
    let header = Header {
        type_descriptor: PyValue::String(descr.into()),
        layout: Layout::Standard,
        shape: shape.to_vec(),
    };
    let head = header
        .to_bytes()
        .map_err(|e| InnerError::bad_file(path, format!("cannot format a .npy header: {e}")))?;
    write_file(path, &[&head, bytes])
}

/// The metric's name in the manifest.
fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::InnerProduct => "inner_product",
        Metric::Cosine => "cosine",
        Metric::L2 => "l2",
    }
}

/// A shape as NumPy prints it.
fn fmt_shape(shape: &[usize]) -> String {
    match shape {
        [d] => format!("({d},)"),
        _ => format!("({})", shape.iter().map(usize::to_string).collect::<Vec<_>>().join(",")),
    }
}
