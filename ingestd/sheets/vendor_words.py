"""Words vendors write in cells (docs/reading.md#status-words, docs/reading.md#dates): ASAP
and its synonyms in a date column, yes/no values, and a row's change word (``Increase``,
``Baja``, ``Code Removal``…), in the ten languages of docs/reading.md#languages, compared by
``word_key``."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import polars as pl

from ingestd.sheets.cells import WORK, first_reason, is_blank, per_cell
from ingestd.sheets.headers import fold

# compared by ``word_key`` (no case, accents or end punctuation): ``IMMÉDIAT`` is ``immediat``
ASAP_WORDS = (
    "asap", "immediate", "immediately", "now", "effective immediately", "with immediate effect",
    # es pt fr de it ru tr ar zh
    "inmediato", "inmediata", "inmediatamente", "de inmediato", "efecto inmediato",
    "con efecto inmediato", "imediato", "imediata", "imediatamente", "de imediato",
    "efeito imediato", "com efeito imediato", "immédiat", "immédiate", "immédiatement",
    "dès que possible", "effet immédiat", "avec effet immédiat", "sofort", "ab sofort",
    "umgehend", "sofortig", "mit sofortiger wirkung", "unverzüglich", "immediato", "immediata",
    "immediatamente", "subito", "con effetto immediato", "effetto immediato", "немедленно",
    "сразу", "незамедлительно", "немедленное", "hemen", "derhal", "anında", "hemen geçerli",
    "فوري", "فورا", "فوراً", "على الفور", "حالا", "立即", "立即生效", "即时", "马上", "即刻",
    "即刻生效", "立刻",
)  # fmt: skip
# yes/no cells (capabilities, blocked, discontinued) as vendors write them, compared by
# ``word_key``; "no" is English and Spanish alike
FLAG_TRUE = (
    "1", "true", "yes", "y", "x", "✓", "✔", "☑", "✅", "○",
    "si", "sí", "s", "verdadero", "sim", "verdadeiro", "oui", "o", "vrai", "ja", "j", "wahr",
    "vero", "да", "д", "истина", "evet", "e", "doğru", "var", "نعم", "صح", "是", "有",
)  # fmt: skip
FLAG_FALSE = (
    "0", "false", "no", "n", "✗", "✘", "☐", "❌", "×",
    "falso", "não", "nao", "non", "faux", "nein", "falsch", "нет", "н", "ложь", "hayır", "h",
    "yanlış", "yok", "لا", "خطأ", "否", "无", "没有",
)  # fmt: skip

# A vendor's own word for what happened to a row (a "Change" / "Rate Change" / "Status" column,
# or a code-changes sheet), normalised to ingestd's change classes.
CHANGE_WORDS = {
    "increase": (
        "increase", "increased", "up", "rate increase", "price increase", "rate up", "price up",
        "higher",
        # es pt fr de it ru tr ar zh
        "aumento", "subida", "sube", "incremento", "alza", "aumentado", "aumento de tarifa",
        "aumento de precio", "incrementado", "acréscimo", "aumento de preço", "elevação", "hausse",
        "augmentation", "augmenté", "en hausse", "hausse de prix", "erhöhung", "erhoehung",
        "erhöht", "erhoeht", "preiserhöhung", "preiserhoehung", "anstieg", "gestiegen", "rialzo",
        "aumentato", "повышение", "увеличение", "рост", "повышена", "повышен", "увеличена",
        "повышение цены", "artış", "zam", "arttı", "fiyat artışı", "yükseliş", "زيادة", "ارتفاع",
        "زيادة السعر", "مرتفع", "上调", "涨价", "上涨", "提高", "价格上调", "上升",
    ),
    "decrease": (
        "decrease", "decreased", "down", "rate decrease", "price decrease", "reduced", "reduction",
        "rate down", "price down", "lower",
        # "baja" is a removal ("alta/baja"): a lower price is "bajada", "rebaja", "disminución"
        "bajada", "rebaja", "disminución", "reducción", "descenso", "disminuido", "reducido",
        "bajada de precio", "redução", "diminuição", "reduzido", "redução de preço", "queda",
        "baisse", "diminution", "diminué", "réduction", "en baisse", "baisse de prix", "senkung",
        "gesenkt", "preissenkung", "reduzierung", "reduziert", "riduzione", "diminuzione",
        "ribasso", "ridotto", "diminuito", "понижение", "снижение", "уменьшение", "снижена",
        "понижена", "понижен", "снижение цены", "azalış", "düşüş", "indirim", "azaldı", "azalma",
        "fiyat düşüşü", "تخفيض", "انخفاض", "نقصان", "تخفيض السعر", "下调", "降价", "下降", "降低",
        "价格下调",
    ),
    "new": (
        "new", "added", "add", "new code", "code added", "destination added", "new destination",
        "new route", "addition", "code addition", "new prefix", "prefix added", "codes added",
        "nuevo", "nueva", "alta", "añadido", "añadida", "agregado", "agregada", "nuevo código",
        "código nuevo", "nuevo destino", "dado de alta", "alta de código", "novo", "nova",
        "adicionado", "adicionada", "incluído", "incluída", "novo código", "código novo",
        "novo destino", "inclusão", "nouveau", "nouvelle", "ajouté", "ajoutée", "ajout",
        "nouveau code", "code ajouté", "nouvelle destination", "neu", "hinzugefügt", "hinzugefuegt",
        "neuer code", "neue vorwahl", "neues ziel", "aufgenommen", "nuovo", "nuova", "aggiunto",
        "aggiunta", "nuovo codice", "nuovo prefisso", "новый", "новая", "новое", "добавлен",
        "добавлено", "добавлена", "новый код", "код добавлен", "yeni", "eklendi", "yeni kod",
        "eklenen", "kod eklendi", "جديد", "جديدة", "مضاف", "أضيف", "تمت الإضافة", "إضافة",
        "رمز جديد", "新增", "新", "新开", "新码", "新号段", "添加", "已添加", "新增号码",
    ),
    "unchanged": (
        "no change", "no changes", "unchanged", "same", "nochange", "not changed",
        "no change on pending increase", "code unchanged", "existing", "current", "sin cambio",
        "sin cambios", "igual", "sin variación", "sin modificación", "mismo", "sem alteração",
        "sem alterações", "inalterado", "sem mudança", "sem mudanças", "inchangé", "inchangée",
        "sans changement", "aucun changement", "pas de changement", "identique", "unverändert",
        "unveraendert", "keine änderung", "keine aenderung", "gleich", "ohne änderung",
        "ohne aenderung", "invariato", "invariata", "nessuna variazione", "nessun cambiamento",
        "без изменений", "не изменилось", "не изменен", "без изм", "değişiklik yok", "değişmedi",
        "aynı", "sabit", "بدون تغيير", "لا تغيير", "ثابت", "لم يتغير", "不变", "无变化", "未变",
        "没有变化", "保持不变", "维持",
    ),
    "discontinued": (
        "closed", "close", "deleted", "delete", "removed", "remove", "discontinued", "withdrawn",
        "code removed", "code deleted", "code closed", "code removal", "code deletion", "removal",
        "deletion", "destination removed", "destination closed", "codes removed", "terminated",
        "eliminado", "eliminada", "borrado", "borrada", "dado de baja", "baja", "cerrado",
        "cerrada", "suprimido", "suprimida", "retirado", "retirada", "código eliminado",
        "baja de código", "eliminación", "removido", "removida", "excluído", "excluída",
        "encerrado", "encerrada", "desativado", "exclusão", "remoção", "código removido",
        "supprimé", "supprimée", "fermé", "fermée", "retiré", "retirée", "suppression",
        "code supprimé", "gelöscht", "geloescht", "entfernt", "geschlossen", "eingestellt",
        "abgeschaltet", "gestrichen", "löschung", "loeschung", "entfällt", "entfaellt", "eliminato",
        "eliminata", "rimosso", "rimossa", "chiuso", "chiusa", "cancellato", "cancellata",
        "soppresso", "cessato", "удалено", "удален", "удалён", "удалена", "закрыто", "закрыт",
        "закрыта", "удаление", "код удален", "отключен", "silindi", "kaldırıldı", "kapatıldı",
        "kapalı", "silinen", "kaldırılan", "kod silindi", "محذوف", "حذف", "مغلق", "ملغى",
        "تم الحذف", "أزيل", "إزالة", "删除", "关闭", "已删除", "停用", "取消", "移除", "下线",
        "已关闭",
    ),
    "forbidden": (
        "blocked", "block", "barred", "forbidden", "bloqueado", "bloqueada", "prohibido",
        "proibido", "bloqué", "bloquée", "interdit", "gesperrt", "verboten", "bloccato", "vietato",
        "заблокировано", "заблокирован", "запрещено", "engellendi", "engelli", "yasak", "محظور",
        "محجوب", "禁止", "封锁", "屏蔽", "禁用",
    ),
}  # fmt: skip
# cells that say nothing: no word, not an unknown one
NO_WORDS = ("", "-", "n/a", "na", "none", "null", "undefined", "tbd")


def word_key(text: str) -> str:
    """A vendor's word as ``ASAP_WORDS``, ``CHANGE_WORDS`` and ``NO_WORDS`` are compared: no
    case or accents (``headers.fold``), spaces, ``_`` and ``-`` one space, no end punctuation."""
    return " ".join(fold(text).replace("_", " ").replace("-", " ").split()).strip(" .!:")


_WORD_CLASS = {word_key(word): change for change, words in CHANGE_WORDS.items() for word in words}
_ASAP_KEYS = frozenset(word_key(word) for word in ASAP_WORDS)
_NO_WORD_KEYS = frozenset(word_key(word) for word in NO_WORDS)
_FLAG_KEYS = {word_key(word): False for word in FLAG_FALSE} | {
    word_key(word): True for word in FLAG_TRUE
}
_NOTHING = ""  # what a word of ``NO_WORDS`` means among the change classes
_CHANGE_MEANINGS = dict.fromkeys(_NO_WORD_KEYS, _NOTHING) | _WORD_CLASS


def _word_keys(cells: pl.Series, known: Collection[str]) -> dict[str, str]:
    """Each distinct cell whose ``word_key`` is one of ``known`` → that key.  Once per distinct
    cell; ASCII cells (nearly all) as a whole column, where ``word_key`` is lower case, runs of
    spaces, ``_`` and ``-`` one space, no end punctuation."""
    distinct = cells.drop_nulls().unique()
    ascii_only = distinct.str.len_bytes() == distinct.str.len_chars()
    plain = distinct.filter(ascii_only)
    keys = (
        plain.str.to_lowercase().str.replace_all(r"[\s\x1c-\x1f_\-]+", " ").str.strip_chars(" .!:")
    )
    wanted = keys.is_in(list(known))
    words = dict(zip(plain.filter(wanted).to_list(), keys.filter(wanted).to_list(), strict=True))
    for cell in distinct.filter(~ascii_only).to_list():
        key = word_key(cell)
        if key in known:
            words[cell] = key
    return words


def asap_cells(texts: pl.Series) -> list[str]:
    """The cells of a date column that are ASAP words (only cells without digits are looked
    at: a column of dates has many distinct cells, its words few)."""
    return list(_word_keys(texts.filter(~texts.str.contains(r"[0-9]").fill_null(True)), _ASAP_KEYS))


def _word_meanings(s: pl.Series, meanings: Mapping[str, object], dtype: pl.DataType) -> pl.Expr:
    """What each cell of ``s`` means when its ``word_key`` is a key of ``meanings``, else null."""
    words = _word_keys(s.cast(pl.String), meanings)
    known = {word: meanings[key] for word, key in words.items()}
    return pl.col(WORK).replace_strict(known, default=None, return_dtype=dtype)


def parse_flags(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Booleans from ``FLAG_TRUE`` / ``FLAG_FALSE`` (1/0, yes/no, ticks and crosses, sí/no,
    oui/non, ja/nein, да/нет, evet/hayır, نعم/لا, 是/否, …), any case or accents; blank is
    null."""
    value = _word_meanings(s, _FLAG_KEYS, pl.Boolean)
    errors = first_reason([(is_blank(pl.col(WORK)), None), (value.is_null(), "bad_flag")])
    out = per_cell(s, value.alias("value"), errors.alias("error"))
    return out.get_column("value").rename(s.name), out.get_column("error")


def parse_change_words(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Change classes (``CHANGE_WORDS``: new, increase, decrease, unchanged, discontinued,
    forbidden) from the vendor's words, any case and spacing; blank and ``NO_WORDS`` are null.

    Returns the classes and, for a word that is none of these, the word as written (a caller
    warns about it: an unknown word is not a reason to reject a row)."""
    written = pl.col(WORK).str.strip_chars()
    meaning = _word_meanings(s, _CHANGE_MEANINGS, pl.String)
    change = pl.when(meaning != _NOTHING).then(meaning)
    unknown = meaning.is_null() & written.is_not_null()
    out = per_cell(s, change.alias("change"), pl.when(unknown).then(written).alias("unknown"))
    return out.get_column("change").rename(s.name), out.get_column("unknown")
