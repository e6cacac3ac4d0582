"""Every file the course downloads: where from (primary URL first, then mirrors), checksum, size, licence.

``data/README.md`` shows this table; ``tests/test_registry.py`` checks that it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FileSpec:
    """One downloadable file and how to verify it."""

    filename: str
    urls: tuple[str, ...]
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None  # bytes, when known exactly
    gdrive_id: str | None = None  # a Google Drive file, fetched with torchvision's helper
    sha256_prefix: str | None = None  # torch.hub's convention: the hash prefix in the weight file's name
    source: str = ""  # where the checksum was published (data/README.md shows it)


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset (or weight file) of the course and where its files go under the data root."""

    name: str
    title: str
    lessons: tuple[str, ...]
    subdir: str  # relative to the data root, where the files are placed
    files: tuple[FileSpec, ...]
    approx_mb: float
    licence: str
    homepage: str
    notes: str = ""
    # what the unpacked files must be, relative to the data root: {path: (size in bytes, sha256)}
    unpacked: dict[str, tuple[int, str]] = field(default_factory=dict)
    unpacked_source: str = ""
    # the layout check where no checksum is published: {folder: (glob pattern, exact number of matching files)}
    layout: dict[str, tuple[str, int]] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def _mirrored(filename: str, md5: str, sha256: str, size: int, bases: tuple[str, ...], source: str) -> FileSpec:
    return FileSpec(filename, tuple(base + filename for base in bases), md5=md5, sha256=sha256, size=size,
                    source=source)


_TFDS = "tensorflow-datasets url_checksums"
_TV = "torchvision"


_MNIST_BASES = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's mirror: the original host answers 403
    "http://yann.lecun.com/exdb/mnist/",
)
_FASHION_BASES = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_GTSRB_BASE = "https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/"
_MNIST_SRC = "tensorflow-datasets url_checksums; the same in torchvision.prototype.datasets (mnist)"


def _idx(folder: str, sums: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    return {f"{folder}/raw/{name}": value for name, value in sums.items()}


# the unpacked IDX files: sha256 of the decompressed bytes of the pinned .gz files (computed from verified copies)
_MNIST_IDX = {
    "train-images-idx3-ubyte": (47040016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte": (60008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte": (7840016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte": (10008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}
_FASHION_IDX = {
    "train-images-idx3-ubyte": (47040016, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels-idx1-ubyte": (60008, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "t10k-images-idx3-ubyte": (7840016, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "t10k-labels-idx1-ubyte": (10008, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
# the 18 surname files of data.zip: sha256 and sizes as published in Git-LFS pointers of a copy of the
# tutorial's data, and equal in an independent copy (see data/README.md)
_NAMES = {
    "Arabic.txt": (13190, "6f424a8dbe51cbbbabab7a57d38b617210125e4e3991f3c657cb79b8f104bafc"),
    "Chinese.txt": (1247, "49263ef55a8cb1740e841d65cad8214b2f9b5b869bc534c811746422496fa91e"),
    "Czech.txt": (3919, "145bbbd6d0816578f03388e92c264d39ef1c60df920b081d371fa5c5cc055a8e"),
    "Dutch.txt": (2351, "924f32b635170eae561f84538632138fc07d4c8bbd70ba3fb980de1ecc4d2af3"),
    "English.txt": (27125, "9cca037066d3d5989e24bc01801416162de506b5e28e15b7c092a47905d29bf2"),
    "French.txt": (2178, "81e65b36c60ed5b89a17422f6edcadbb89546f38ad69e960e64e7ba682012a95"),
    "German.txt": (5610, "7449cd590b97a733e18d613a4155decd77ec35dc5f8aadd7a82204dce4f051db"),
    "Greek.txt": (1981, "3555b5186de7f401e6d991b088e9e644ca3099116477818c25ab5793801389e6"),
    "Irish.txt": (1858, "cf8c7013256252a88d2503127b87282a11f21b2ff6db1bded68834c19a1ec058"),
    "Italian.txt": (5657, "f88414c27d0606a11a678b4859277828c2565d6cc4d9ee932deef6e94f3b35e4"),
    "Japanese.txt": (7622, "e0e717e114fec3e7eade4d9dabe0067c475f43147e36a22b47902ee76ad9e67f"),
    "Korean.txt": (423, "cd54221ccb362a6cba4c78828838cf3268a0e59744767a37cf6ec4b74036b136"),
    "Polish.txt": (1165, "45bab898af2f60ed3a728bbf6980e28821011a7caa53227553b5785903a40826"),
    "Portuguese.txt": (554, "50a8735f41f4f73757c8ce5b16cb0275cd86b2b214bcbc8c9805f508cb131c53"),
    "Russian.txt": (85605, "43b3e64ce351f77f1ac9e0cdf7566012d127f4371875fd25208845b5c9d6f7c3"),
    "Scottish.txt": (752, "78d0252711d87d948ea86fe34826c51d2d794a8e52d15b5d6f7b6244d45d62dd"),
    "Spanish.txt": (2284, "1bcb462ed3316756a85781d68232bddae04498fdddd5d9219c53fd1fbdeba7a7"),
    "Vietnamese.txt": (339, "f3f9e4164ab47601178a6e45b216464a64122f49d05541f24bf18a757253281d"),
}

REGISTRY: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            "mnist",
            "MNIST handwritten digits",
            ("4_SimpleConv", "8_GAN"),
            "MNIST/raw",
            (
                _mirrored("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                          "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422, _MNIST_BASES, _MNIST_SRC),
                _mirrored("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432",
                          "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881, _MNIST_BASES, _MNIST_SRC),
                _mirrored("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3",
                          "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877, _MNIST_BASES, _MNIST_SRC),
                _mirrored("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c",
                          "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542, _MNIST_BASES, _MNIST_SRC),
            ),
            11.6,
            "CC BY-SA 3.0 (Y. LeCun, C. Cortes)",
            "http://yann.lecun.com/exdb/mnist/",
            unpacked=_idx("MNIST", _MNIST_IDX),
            unpacked_source="sha256 of the decompressed pinned .gz files",
        ),
        DatasetInfo(
            "fashion_mnist",
            "Fashion-MNIST (Zalando)",
            ("8_GAN",),
            "FashionMNIST/raw",
            (
                _mirrored("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                          "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880, _FASHION_BASES, _TFDS),
                _mirrored("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe",
                          "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515, _FASHION_BASES, _TFDS),
                _mirrored("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79",
                          "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102, _FASHION_BASES, _TFDS),
                _mirrored("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310",
                          "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148, _FASHION_BASES, _TFDS),
            ),
            30.8,
            "MIT",
            "https://github.com/zalandoresearch/fashion-mnist",
            unpacked=_idx("FashionMNIST", _FASHION_IDX),
            unpacked_source="sha256 of the decompressed pinned .gz files",
        ),
        DatasetInfo(
            "cifar10",
            "CIFAR-10",
            ("4_SimpleConv", "7_Visualization"),
            ".",
            (
                FileSpec(
                    "cifar-10-python.tar.gz",
                    ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                    md5="c58f30108f718f92721af3b95e74349a",
                    sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                    size=170498071,
                    source="sha256: keras.datasets.cifar10; md5: torchvision (the unpacked batches: torchvision's md5 list)",
                ),
            ),
            163.0,
            "no licence stated; free for research, cite Krizhevsky (2009)",
            "https://www.cs.toronto.edu/~kriz/cifar.html",
        ),
        DatasetInfo(
            "gtsrb",
            "GTSRB — German Traffic Sign Recognition Benchmark (43 classes)",
            ("4_SimpleConv",),
            "gtsrb",
            (
                FileSpec("GTSRB-Training_fixed.zip", (_GTSRB_BASE + "GTSRB-Training_fixed.zip",),
                         md5="513f3c79a4c5141765e10e952eaa2478", source=_TV),
                FileSpec("GTSRB_Final_Test_Images.zip", (_GTSRB_BASE + "GTSRB_Final_Test_Images.zip",),
                         md5="c7e4e6327067d32654124b0fe9e82185", source=_TV),
                FileSpec("GTSRB_Final_Test_GT.zip", (_GTSRB_BASE + "GTSRB_Final_Test_GT.zip",),
                         md5="fe31e9c9270bbcd7b84b7f21a9d9d9e5", source=_TV),
            ),
            350.0,
            "free for research use; cite Stallkamp et al. (2012)",
            "https://benchmark.ini.rub.de/gtsrb_news.html",
            notes="no published sha256: md5 from torchvision, plus the layout check (43 class folders, "
                  "12630 test images, GT-final_test.csv with ClassId)",
            layout={"gtsrb/GTSRB/Final_Test/Images": ("*.ppm", 12630)},
        ),
        DatasetInfo(
            "names",
            "Surnames of 18 languages (PyTorch char-RNN tutorial)",
            ("5_RNN",),
            "char_rnn",
            (FileSpec("data.zip", ("https://download.pytorch.org/tutorial/data.zip",)),),
            2.9,
            "BSD-3-Clause (pytorch/tutorials)",
            "https://pytorch.org/tutorials/intermediate/char_rnn_classification_tutorial.html",
            notes="no published checksum of data.zip: its 18 unpacked names/*.txt are checked by sha256 and size",
            unpacked={f"char_rnn/data/names/{name}": value for name, value in _NAMES.items()},
            unpacked_source="Git-LFS pointers of midnightoatmeal/RNN_name_classification data/names/*.txt, "
                            "equal to the files of DrUzair/NLP surnames/names_data/names",
        ),
        DatasetInfo(
            "hymenoptera",
            "Ants and bees (PyTorch transfer-learning tutorial, an ImageNet subset)",
            ("6_TL",),
            ".",
            (FileSpec("hymenoptera_data.zip", ("https://download.pytorch.org/tutorial/hymenoptera_data.zip",)),),
            45.0,
            "ImageNet terms: non-commercial research and education",
            "https://pytorch.org/tutorials/beginner/transfer_learning_tutorial.html",
            notes="no published checksum: verified by its layout (train: 124 ants, 121 bees; val: 70 ants, "
                  "83 bees; 398 files, 47385924 B)",
            layout={"hymenoptera_data/train/ants": ("*", 124), "hymenoptera_data/train/bees": ("*", 121),
                    "hymenoptera_data/val/ants": ("*", 70), "hymenoptera_data/val/bees": ("*", 83)},
            extra={"total_bytes": 47385924},
        ),
        DatasetInfo(
            "oxford_pets",
            "Oxford-IIIT Pet (images + trimaps)",
            ("9_Segm",),
            "oxford-iiit-pet",
            (
                FileSpec("images.tar.gz", ("https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",),
                         md5="5c4f3ee8e5d25df40f4fd59a7f44e54c",
                         sha256="67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d",
                         size=791918971, source=f"sha256, size: {_TFDS}; md5: {_TV}"),
                FileSpec("annotations.tar.gz",
                         ("https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",),
                         md5="95a8c909bbe2e81eed6a22bccdf3f68f",
                         sha256="52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91",
                         size=19173078, source=f"sha256, size: {_TFDS}; md5: {_TV}"),
            ),
            774.0,
            "CC BY-SA 4.0",
            "https://www.robots.ox.ac.uk/~vgg/data/pets/",
        ),
    )
}


def get(name: str) -> DatasetInfo:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def _human(info: DatasetInfo) -> str:
    return f"{info.approx_mb:g} MB"


def markdown_table() -> str:
    """The registry as the Markdown table that ``data/README.md`` shows (a test keeps them equal)."""
    rows = [
        "| набор (name) | уроки | куда кладётся (под корнем данных) | размер | лицензия | файлы: URL (основной, зеркала) и контрольная сумма |",
        "|---|---|---|---|---|---|",
    ]
    for info in REGISTRY.values():
        files = "<br>".join(
            f"`{f.filename}`: " + ", ".join(f"<{u}>" for u in f.urls)
            + (f" — sha256 `{f.sha256}`" if f.sha256 else "") + (f" — md5 `{f.md5}`" if f.md5 else "")
            + (f" — {f.size} B" if f.size else "") + (f" (источник: {f.source})" if f.source else "")
            for f in info.files
        )
        if info.notes:
            files += f"<br>*{info.notes}*"
        if info.unpacked:
            files += f"<br>распакованные файлы проверяются по sha256 ({len(info.unpacked)} шт.; {info.unpacked_source})"
        rows.append(
            f"| [{info.title}]({info.homepage}) (`{info.name}`) | {', '.join(info.lessons)} | `{info.subdir}` "
            f"| ≈ {_human(info)} | {info.licence} | {files} |"
        )
    return "\n".join(rows)


def readme_section(readme_text: str) -> str:
    """The part of ``data/README.md`` between the registry markers."""
    begin, end = "<!-- registry:begin -->", "<!-- registry:end -->"
    return readme_text.split(begin, 1)[1].split(end, 1)[0].strip()


if __name__ == "__main__":
    print(markdown_table())
