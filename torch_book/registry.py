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
    extra: dict = field(default_factory=dict)


def _mirrored(filename: str, md5: str, size: int, bases: tuple[str, ...]) -> FileSpec:
    return FileSpec(filename, tuple(base + filename for base in bases), md5=md5, size=size)


_MNIST_BASES = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's mirror: the original host answers 403
    "http://yann.lecun.com/exdb/mnist/",
)
_FASHION_BASES = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_GTSRB_BASE = "https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/"

REGISTRY: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            "mnist",
            "MNIST handwritten digits",
            ("4_SimpleConv", "8_GAN"),
            "MNIST/raw",
            (
                _mirrored("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422, _MNIST_BASES),
                _mirrored("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28881, _MNIST_BASES),
                _mirrored("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1648877, _MNIST_BASES),
                _mirrored("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4542, _MNIST_BASES),
            ),
            11.6,
            "CC BY-SA 3.0 (Y. LeCun, C. Cortes)",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        DatasetInfo(
            "fashion_mnist",
            "Fashion-MNIST (Zalando)",
            ("8_GAN",),
            "FashionMNIST/raw",
            (
                _mirrored("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880, _FASHION_BASES),
                _mirrored("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", 29515, _FASHION_BASES),
                _mirrored("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", 4422102, _FASHION_BASES),
                _mirrored("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", 5148, _FASHION_BASES),
            ),
            30.8,
            "MIT",
            "https://github.com/zalandoresearch/fashion-mnist",
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
                    size=170498071,
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
                         md5="513f3c79a4c5141765e10e952eaa2478"),
                FileSpec("GTSRB_Final_Test_Images.zip", (_GTSRB_BASE + "GTSRB_Final_Test_Images.zip",),
                         md5="c7e4e6327067d32654124b0fe9e82185"),
                FileSpec("GTSRB_Final_Test_GT.zip", (_GTSRB_BASE + "GTSRB_Final_Test_GT.zip",),
                         md5="fe31e9c9270bbcd7b84b7f21a9d9d9e5"),
            ),
            350.0,
            "free for research use; cite Stallkamp et al. (2012)",
            "https://benchmark.ini.rub.de/gtsrb_news.html",
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
            notes="no published checksum: verified by its layout (18 files in names/)",
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
            notes="no published checksum: verified by its layout (train/ and val/ with ants/ and bees/)",
        ),
        DatasetInfo(
            "oxford_pets",
            "Oxford-IIIT Pet (images + trimaps)",
            ("9_Segm",),
            "oxford-iiit-pet",
            (
                FileSpec("images.tar.gz", ("https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",),
                         md5="5c4f3ee8e5d25df40f4fd59a7f44e54c"),
                FileSpec("annotations.tar.gz",
                         ("https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",),
                         md5="95a8c909bbe2e81eed6a22bccdf3f68f"),
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
            + (f" — md5 `{f.md5}`" if f.md5 else "") + (f" — sha256 `{f.sha256}`" if f.sha256 else "")
            + (f" — {f.size} B" if f.size else "")
            for f in info.files
        )
        if info.notes:
            files += f"<br>*{info.notes}*"
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
