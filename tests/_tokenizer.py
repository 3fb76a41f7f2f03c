"""A tokenizer with a realistic vocabulary, trained offline: XLM-R's pipeline (NFKC, Metaspace,
Unigram, the same five special tokens) on the sample corpus plus generated multilingual text,
so keyword weighting is also tested on thousands of pieces, not only the tiny checkpoint's 652."""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).parent.parent / "examples" / "data"
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]

# Words of several scripts; generated sentences give the trainer frequent and rare pieces.
WORDS = {
    "en": "the capital city river mountain library station market museum bridge harbour "
    "engine printer error code report weather train ticket garden winter summer".split(),
    "de": "die Hauptstadt Fluss Berg Bibliothek Bahnhof Markt Museum Brücke Hafen Drucker "
    "Fehler Bericht Wetter Zug Fahrkarte Garten Winter Sommer und ist der".split(),
    "zh": "首都 城市 河流 山脉 图书馆 车站 市场 博物馆 桥梁 港口 打印机 错误 报告 天气 火车 "
    "车票 花园 冬天 夏天 的 是".split(),
    "ja": "首都 都市 川 山 図書館 駅 市場 博物館 橋 港 プリンター エラー 報告 天気 電車 切符 "
    "庭 冬 夏 は です".split(),
    "ar": "العاصمة المدينة النهر الجبل المكتبة المحطة السوق المتحف الجسر الميناء الطابعة "
    "الخطأ التقرير الطقس القطار التذكرة الحديقة الشتاء الصيف في هي".split(),
}


def _corpus() -> list[str]:
    texts = []
    for path in sorted(EXAMPLES.rglob("*")):
        if path.suffix in (".md", ".txt"):
            texts.append(path.read_text(encoding="utf-8"))
        elif path.suffix == ".jsonl":
            texts += [json.loads(line)["text"] for line in path.read_text().splitlines() if line]
    rng = random.Random(0)
    for lang, words in WORDS.items():
        sep = "" if lang in ("zh", "ja") else " "
        texts += [sep.join(rng.choices(words, k=rng.randint(4, 12))) for _ in range(400)]
    return texts


@functools.cache
def realistic_tokenizer() -> Any:
    """A ``tokenizers.Tokenizer`` with XLM-R's layout and a few thousand pieces."""
    import tokenizers
    from tokenizers import normalizers, pre_tokenizers, trainers

    tokenizer = tokenizers.Tokenizer(tokenizers.models.Unigram())
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Strip(left=False, right=True)]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=3000, special_tokens=SPECIALS, unk_token="<unk>", show_progress=False
    )
    tokenizer.train_from_iterator(_corpus(), trainer)
    return tokenizer
