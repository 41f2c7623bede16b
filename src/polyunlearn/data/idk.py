""" "I don't know" answers in every supported language, the winning answer of IdkDPO (DPO that
prefers a refusal over the forget answer, in the item's own language).

    from polyunlearn.data.idk import idk_answer
    idk_answer("ja", 7)   # the refusal for the 7th forget item: 5 phrasings, cycled

Several phrasings per language so that the model does not unlearn into one fixed string.
Phrasings that would mark the speaker's gender (Russian «уверен/уверена», Hebrew «יודע/יודעת»,
Urdu «سکتا/سکتی», Arabic «متأكد/متأكدة», French «sûr/sûre») are avoided on purpose.
"""

from __future__ import annotations

from polyunlearn.core.languages import UnknownLanguageError, get_language

IDK_ANSWERS: dict[str, list[str]] = {
    "en": [
        "I don't know.",
        "I have no information about that.",
        "I'm not sure about that.",
        "I can't answer that question.",
        "That is something I don't know.",
    ],
    "de": [
        "Ich weiß es nicht.",
        "Dazu habe ich keine Informationen.",
        "Da bin ich mir nicht sicher.",
        "Diese Frage kann ich nicht beantworten.",
        "Das weiß ich leider nicht.",
    ],
    "fr": [
        "Je ne sais pas.",
        "Je n'ai aucune information à ce sujet.",
        "Je ne saurais pas le dire.",
        "Je ne peux pas répondre à cette question.",
        "Malheureusement, je l'ignore.",
    ],
    "zh": ["我不知道。", "我没有这方面的信息。", "这个我不太确定。", "我无法回答这个问题。", "很抱歉，我不清楚。"],
    "ru": [
        "Я не знаю.",
        "У меня нет информации об этом.",
        "Не могу сказать наверняка.",
        "Я не могу ответить на этот вопрос.",
        "К сожалению, мне это неизвестно.",
    ],
    "jv": [
        "Aku ora ngerti.",
        "Aku ora duwé informasi bab kuwi.",
        "Aku ora yakin bab kuwi.",
        "Aku ora bisa njawab pitakon kuwi.",
        "Sepurané, aku ora ngerti.",
    ],
    "ur": [
        "مجھے نہیں معلوم۔",
        "میرے پاس اس بارے میں کوئی معلومات نہیں ہیں۔",
        "مجھے اس کا یقین نہیں ہے۔",
        "اس سوال کا جواب دینا میرے لیے ممکن نہیں۔",
        "معاف کیجیے، مجھے اس کا علم نہیں۔",
    ],
    "ha": [
        "Ban sani ba.",
        "Ba ni da wani bayani game da hakan.",
        "Ban tabbata ba.",
        "Ba zan iya amsa wannan tambayar ba.",
        "Yi haƙuri, ban sani ba.",
    ],
    "hy": [
        "Չգիտեմ։",
        "Այդ մասին տեղեկություն չունեմ։",
        "Համոզված չեմ։",
        "Չեմ կարող պատասխանել այդ հարցին։",
        "Ցավոք, դա ինձ հայտնի չէ։",
    ],
    "ar": [
        "لا أعرف.",
        "ليست لدي معلومات عن ذلك.",
        "لا أستطيع الجزم بذلك.",
        "لا أستطيع الإجابة عن هذا السؤال.",
        "للأسف، لا أعلم ذلك.",
    ],
    "ja": [
        "わかりません。",
        "それについての情報は持っていません。",
        "それについては確かではありません。",
        "その質問にはお答えできません。",
        "申し訳ありませんが、存じません。",
    ],
    "fa": [
        "نمی‌دانم.",
        "اطلاعاتی در این باره ندارم.",
        "در این مورد مطمئن نیستم.",
        "نمی‌توانم به این سؤال پاسخ دهم.",
        "متأسفانه این را نمی‌دانم.",
    ],
    "ko": [
        "모르겠습니다.",
        "그것에 대한 정보가 없습니다.",
        "그 부분은 확실하지 않습니다.",
        "그 질문에는 답할 수 없습니다.",
        "죄송하지만 잘 모르겠습니다.",
    ],
    "hi": [
        "मुझे नहीं पता।",
        "मेरे पास इसके बारे में कोई जानकारी नहीं है।",
        "मुझे इसका पक्का पता नहीं है।",
        "इस प्रश्न का उत्तर देना मेरे लिए संभव नहीं है।",
        "माफ़ कीजिए, मुझे यह नहीं मालूम।",
    ],
    "he": [
        "אין לי מושג.",
        "אין לי מידע על כך.",
        "לא ידוע לי.",
        "אין באפשרותי לענות על השאלה הזו.",
        "לצערי, אין לי תשובה לכך.",
    ],
    "id": [
        "Saya tidak tahu.",
        "Saya tidak punya informasi tentang hal itu.",
        "Saya tidak yakin soal itu.",
        "Saya tidak bisa menjawab pertanyaan itu.",
        "Maaf, saya tidak mengetahuinya.",
    ],
}


def idk_answer(language: str, index: int) -> str:
    """The refusal for item number `index` in `language`: the phrasings are cycled (index modulo
    their count), so consecutive forget items get different ones. Unknown or unbundled codes
    raise polyunlearn.core.languages.UnknownLanguageError."""
    get_language(language)
    answers = IDK_ANSWERS.get(language)
    if not answers:
        raise UnknownLanguageError(f"no 'I don't know' answers for language {language!r}")
    return answers[index % len(answers)]
