"""X's weighted length of a post: twitter-text v3, the rules X applies when it accepts a post.

X does not count characters. After NFC normalisation it weighs the text:

* a URL its extractor recognises (``https://…`` or a bare ``chinhphu.vn/…``) weighs 23, however
  long, because X replaces it with a t.co link;
* an emoji sequence (family, flag, skin tone, keycap) weighs 2, however many code points it has;
* any other code point weighs 1 in U+0000–U+10FF and three punctuation ranges, else 2.

So "ê" (U+00EA) weighs 1 but "ệ" (U+1EC7, Latin Extended Additional) weighs 2: a Vietnamese
title costs X far more than its character count.

URLs are found with twitter-text's own expressions and TLD list (twitter/twitter-text, Apache-2.0),
so the conformance file passes case for case. Emoji are found with the Unicode sequence grammar over
Extended_Pictographic instead of twemoji's list of recommended sequences: the two agree on all an
emoji keyboard types; an invented sequence (a skin tone on a cat) weighs 2 here and more on X.
"""

from __future__ import annotations

import functools
import re
import unicodedata

X_MAX_WEIGHTED = 280
"""The most a post may weigh on X (maxWeightedTweetLength / scale)."""
X_URL_WEIGHT = 23
"""What any URL weighs (transformedURLLength): X rewrites it to a t.co link."""

_EMOJI_WEIGHT = 2
_HEAVY = 2
# The code points that weigh 1 (config v3 "ranges"); everything else weighs 2.
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))

# --- URLs: twitter-text's extractUrl, piece by piece, in the same order --------------------------

# twitter-text's TLD lists (js/src/regexp/validGTLD.js and validCCTLD.js), kept in their order:
# the expression tries them in turn, so "嘉里大酒店" is tried before "嘉里".
_GENERIC_TLDS = """
    삼성 닷컴 닷넷 香格里拉 餐厅 食品 飞利浦 電訊盈科 集团 通販 购物 谷歌 诺基亚 联通 网络 网站
    网店 网址 组织机构 移动 珠宝 点看 游戏 淡马锡 机构 書籍 时尚 新闻 政府 政务 招聘 手表 手机
    我爱你 慈善 微博 广东 工行 家電 娱乐 天主教 大拿 大众汽车 在线 嘉里大酒店 嘉里 商标 商店
    商城 公益 公司 八卦 健康 信息 佛山 企业 中文网 中信 世界 ポイント ファッション セール ストア
    コム グーグル クラウド みんな คอม संगठन नेट कॉम همراه موقع موبايلي كوم كاثوليك عرب شبكة بيتك
    بازار العليان ارامكو اتصالات ابوظبي קום сайт рус орг онлайн москва ком католик дети zuerich
    zone zippo zip zero zara zappos yun youtube you yokohama yoga yodobashi yandex yamaxun yahoo
    yachts xyz xxx xperia xin xihuan xfinity xerox xbox wtf wtc wow world works work woodside
    wolterskluwer wme winners wine windows win williamhill wiki wien whoswho weir weibo wedding
    wed website weber webcam weatherchannel weather watches watch warman wanggou wang walter
    walmart wales vuelos voyage voto voting vote volvo volkswagen vodka vlaanderen vivo viva
    vistaprint vista vision visa virgin vip vin villas viking vig video viajes vet versicherung
    vermögensberatung vermögensberater verisign ventures vegas vanguard vana vacations ups uol
    uno university unicom uconnect ubs ubank tvs tushu tunes tui tube trv trust
    travelersinsurance travelers travelchannel travel training trading trade toys toyota town
    tours total toshiba toray top tools tokyo today tmall tkmaxx tjx tjmaxx tirol tires tips
    tiffany tienda tickets tiaa theatre theater thd teva tennis temasek telefonica telecity tel
    technology tech team tdk tci taxi tax tattoo tatar tatamotors target taobao talk taipei tab
    systems symantec sydney swiss swiftcover swatch suzuki surgery surf support supply supplies
    sucks style study studio stream store storage stockholm stcgroup stc statoil statefarm
    statebank starhub star staples stada srt srl spreadbetting spot sport spiegel space soy sony
    song solutions solar sohu software softbank social soccer sncf smile smart sling skype sky
    skin ski site singles sina silk shriram showtime show shouji shopping shop shoes shiksha
    shia shell shaw sharp shangrila sfr sexy sex sew seven ses services sener select seek
    security secure seat search scot scor scjohnson science schwarz schule school scholarships
    schmidt schaeffler scb sca sbs sbi saxo save sas sarl sapo sap sanofi sandvikcoromant
    sandvik samsung samsclub salon sale sakura safety safe saarland ryukyu rwe run ruhr rugby
    rsvp room rogers rodeo rocks rocher rmit rip rio ril rightathome ricoh richardli rich
    rexroth reviews review restaurant rest republican report repair rentals rent ren reliance
    reit reisen reise rehab redumbrella redstone red recipes realty realtor realestate read raid
    radio racing qvc quest quebec qpon pwc pub prudential pru protection property properties
    promo progressive prof productions prod pro prime press praxi pramerica post porn politie
    poker pohl pnc plus plumbing playstation play place pizza pioneer pink ping pin pid pictures
    pictet pics piaget physio photos photography photo phone philips phd pharmacy pfizer pet
    pccw pay passagens party parts partners pars paris panerai panasonic pamperedchef page ovh
    ott otsuka osaka origins orientexpress organic org orange oracle open ooo onyourside online
    onl ong one omega ollo oldnavy olayangroup olayan okinawa office off observer obi nyc ntt
    nrw nra nowtv nowruz now norton northwesternmutual nokia nissay nissan ninja nikon nike nico
    nhk ngo nfl nexus nextdirect next news newholland new neustar network netflix netbank net
    nec nba navy natura nationwide name nagoya nadex nab mutuelle mutual museum mtr mtpc mtn msd
    movistar movie mov motorcycles moto moscow mortgage mormon mopar montblanc monster money
    monash mom moi moe moda mobily mobile mobi mma mls mlb mitsubishi mit mint mini mil
    microsoft miami metlife merckmsd meo menu men memorial meme melbourne meet media med
    mckinsey mcdonalds mcd mba mattel maserati marshalls marriott markets marketing market map
    mango management man makeup maison maif madrid macys luxury luxe lupin lundbeck ltda ltd
    lplfinancial lpl love lotto lotte london lol loft locus locker loans loan llp llc lixil
    living live lipsy link linde lincoln limo limited lilly like lighting lifestyle
    lifeinsurance life lidl liaison lgbt lexus lego legal lefrak leclerc lease lds lawyer law
    latrobe latino lat lasalle lanxess landrover land lancome lancia lancaster lamer lamborghini
    ladbrokes lacaixa kyoto kuokgroup kred krd kpn kpmg kosher komatsu koeln kiwi kitchen kindle
    kinder kim kia kfh kerryproperties kerrylogistics kerryhotels kddi kaufen juniper juegos
    jprs jpmorgan joy jot joburg jobs jnj jmp jll jlc jio jewelry jetzt jeep jcp jcb java jaguar
    iwc iveco itv itau istanbul ist ismaili iselect irish ipiranga investments intuit
    international intel int insure insurance institute ink ing info infiniti industries inc
    immobilien immo imdb imamat ikano iinet ifm ieee icu ice icbc ibm hyundai hyatt hughes htc
    hsbc how house hotmail hotels hoteles hot hosting host hospital horse honeywell honda
    homesense homes homegoods homedepot holiday holdings hockey hkt hiv hitachi hisamitsu hiphop
    hgtv hermes here helsinki help healthcare health hdfcbank hdfc hbo haus hangout hamburg hair
    guru guitars guide guge gucci guardian group grocery gripe green gratis graphics grainger
    gov got gop google goog goodyear goodhands goo golf goldpoint gold godaddy gmx gmo gmbh
    gmail globo global gle glass glade giving gives gifts gift ggee george genting gent gea gdn
    gbiz gay garden gap games game gallup gallo gallery gal fyi futbol furniture fund fun
    fujixerox fujitsu ftr frontier frontdoor frogans frl fresenius free fox foundation forum
    forsale forex ford football foodnetwork food foo fly flsmidth flowers florist flir flights
    flickr fitness fit fishing fish firmdale firestone fire financial finance final film fido
    fidelity fiat ferrero ferrari feedback fedex fast fashion farmers farm fans fan family faith
    fairwinds fail fage extraspace express exposed expert exchange everbank events eus
    eurovision etisalat esurance estate esq erni ericsson equipment epson epost enterprises
    engineering engineer energy emerck email education edu edeka eco eat earth dvr dvag durban
    dupont duns dunlop duck dubai dtv drive download dot doosan domains doha dog dodge doctor
    docs dnp diy dish discover discount directory direct digital diet diamonds dhl dev design
    desi dentist dental democrat delta deloitte dell delivery degree deals dealer deal dds dclk
    day datsun dating date data dance dad dabur cyou cymru cuisinella csc cruises cruise crs
    crown cricket creditunion creditcard credit cpa courses coupons coupon country corsica coop
    cool cookingchannel cooking contractors contact consulting construction condos comsec
    computer compare company community commbank comcast com cologne college coffee codes coach
    clubmed club cloud clothing clinique clinic click cleaning claims cityeats city citic citi
    citadel cisco circle cipriani church chrysler chrome christmas chloe chintai cheap chat
    chase charity channel chanel cfd cfa cern ceo center ceb cbs cbre cbn cba catholic catering
    cat casino cash caseih case casa cartier cars careers career care cards caravan car
    capitalone capital capetown canon cancerresearch camp camera cam calvinklein call cal cafe
    cab bzh buzz buy business builders build bugatti budapest brussels brother broker broadway
    bridgestone bradesco box boutique bot boston bostik bosch boots booking book boo bond bom
    bofa boehringer boats bnpparibas bnl bmw bms blue bloomberg blog blockbuster blanco
    blackfriday black biz bio bingo bing bike bid bible bharti bet bestbuy best berlin bentley
    beer beauty beats bcn bcg bbva bbt bbc bayern bauhaus basketball baseball bargains barefoot
    barclays barclaycard barcelona bar bank band bananarepublic banamex baidu baby azure axa aws
    avianca autos auto author auspost audio audible audi auction attorney athleta associates
    asia asda arte art arpa army archi aramco arab aquarelle apple app apartments aol anz anquan
    android analytics amsterdam amica amfam amex americanfamily americanexpress alstom alsace
    ally allstate allfinanz alipay alibaba alfaromeo akdn airtel airforce airbus aigo aig agency
    agakhan africa afl afamilycompany aetna aero aeg adult ads adac actor active aco accountants
    accountant accenture academy abudhabi abogado able abc abbvie abbott abb abarth aarp aaa
    onion
"""
_COUNTRY_TLDS = """
    한국 香港 澳門 新加坡 台灣 台湾 中國 中国 გე ລາວ ไทย ලංකා ഭാരതം ಭಾರತ భారత్ சிங்கப்பூர்
    இலங்கை இந்தியா ଭାରତ ભારત ਭਾਰਤ ভাৰত ভারত বাংলা भारोत भारतम् भारत ڀارت پاکستان موريتانيا
    مليسيا مصر قطر فلسطين عمان عراق سورية سودان تونس بھارت بارت ایران امارات المغرب السعودية
    الجزائر البحرين الاردن հայ қаз укр срб рф мон мкд ею бел бг ευ ελ zw zm za yt ye ws wf vu vn
    vi vg ve vc va uz uy us um uk ug ua tz tw tv tt tr tp to tn tm tl tk tj th tg tf td tc sz sy
    sx sv su st ss sr so sn sm sl sk sj si sh sg se sd sc sb sa rw ru rs ro re qa py pw pt ps pr
    pn pm pl pk ph pg pf pe pa om nz nu nr np no nl ni ng nf ne nc na mz my mx mw mv mu mt ms mr
    mq mp mo mn mm ml mk mh mg mf me md mc ma ly lv lu lt ls lr lk li lc lb la kz ky kw kr kp kn
    km ki kh kg ke jp jo jm je it is ir iq io in im il ie id hu ht hr hn hm hk gy gw gu gt gs gr
    gq gp gn gm gl gi gh gg gf ge gd gb ga fr fo fm fk fj fi eu et es er eh eg ee ec dz do dm dk
    dj de cz cy cx cw cv cu cr co cn cm cl ck ci ch cg cf cd cc ca bz by bw bv bt bs br bq bo bn
    bm bl bj bi bh bg bf be bd bb ba az ax aw au at as ar aq ao an am al ai ag af ae ad ac
"""


_TLD_END = "(?=[^0-9a-z@+-]|$)"  # a TLD must not run on into more letters: "vn" ≠ "vnexpress"
_Trie = dict[str, "_Trie"]


def _alternation(words: str) -> str:
    """An expression for any of `words`, shaped as a trie.

    A flat alternation of 1,500 TLDs, tried one by one after every dot, made a long dotted run
    take minutes. Longer words are tried first, as in twitter-text's reverse-sorted lists.
    """
    trie: _Trie = {}
    for word in words.split():
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def expression(node: _Trie) -> str:
        branches = [re.escape(char) + expression(child) for char, child in node.items() if char]
        if "" in node:
            branches.append(_TLD_END)
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return expression(trie)


_PUNCT = r"!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$"
_SPACES = r"\t-\r \x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_INVALID = r"\ufffe\ufeff\uffff"
_DIRECTIONAL = r"\u202a-\u202e\u061c\u200e\u200f\u2066-\u2069"
_LATIN_ACCENTS = (
    r"\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b"
    r"\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_CYRILLIC = r"\u0400-\u04ff"

_D = f"[^{_PUNCT}{_SPACES}{_INVALID}{_DIRECTIONAL}]"  # a character a domain label may hold
# A label starts and ends with a domain character; "-" (and "_" below the registered name) inside.
# Atomic groups: a label ends at its dot, so backtracking into it can only fail, slowly.
_SUBDOMAIN = rf"(?:(?>{_D}(?:[_-]*{_D})*)\.)"
_DOMAIN_NAME = rf"(?:(?>{_D}(?:-*{_D})*)\.)"
_GTLD = _alternation(_GENERIC_TLDS)
_CCTLD = _alternation(_COUNTRY_TLDS)
_TLD = rf"(?:{_GTLD}|{_CCTLD}|(?:xn--[-0-9a-z]+))"
_P = rf"[a-z{_CYRILLIC}0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{_LATIN_ACCENTS}]"  # path character
_PARENS = rf"\((?:{_P}+|(?:{_P}*\({_P}+\){_P}*))\)"
_PATH_END = rf"(?:[+\-a-z{_CYRILLIC}0-9=_#/{_LATIN_ACCENTS}]|{_PARENS})"
_PATH = rf"(?:(?:{_P}*(?:{_PARENS}{_P}*)*{_PATH_END})|(?:@{_P}+/))"
_QUERY = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*[a-z0-9\-_&=#/]"

_URL = (
    rf"(?P<before>[^a-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}]|^)"
    r"(?P<url>(?P<protocol>https?://)?"
    rf"(?P<domain>{_SUBDOMAIN}*{_DOMAIN_NAME}{_TLD})"
    r"(?::[0-9]+)?"
    rf"(?P<path>/{_PATH}*)?"
    rf"(?:\?{_QUERY})?)"
)
_ASCII_DOMAIN = rf"(?:(?:[-a-z0-9{_LATIN_ACCENTS}]+)\.)+{_TLD}"
_DOT_TLD = rf"\.{_TLD}"
# Without a protocol, "name.cc" alone is not a link ("ThS.BS", "Q.TB"), except the famous two.
_SHORT_DOMAIN = rf"^{_DOMAIN_NAME}{_CCTLD}$"
_SPECIAL_SHORT_DOMAIN = rf"^{_DOMAIN_NAME}(?:co|tv)(?=[^0-9a-z@]|$)$"
_TCO = rf"^https?://t\.co/([a-z0-9]+)(?:\?{_QUERY})?"
_BAD_BEFORE_BARE_DOMAIN = re.compile(r"[-_./]$")
_WORD = re.compile(f"[^{_SPACES}]+")  # no part of a URL is a space, so no URL crosses one
_IDN_DOTS = re.compile("[\u3002\uff0e\uff61]")
_MAX_URL_LENGTH = 4096
_MAX_LABEL_LENGTH = 63
_MAX_TCO_SLUG = 40


@functools.cache
def _regex(pattern: str) -> re.Pattern[str]:
    # Compiled on first use: the TLD expressions take a second, which no CLI start should pay.
    return re.compile(pattern, re.IGNORECASE)


def warm() -> None:
    """Compile the URL expressions now (about a second) rather than in the first count.

    Long-running processes call it at start: a worker, so that the jobs it forks inherit the
    compiled expressions, and the sandbox, so its first answer is not a second late.
    """
    for pattern in (_URL, _DOT_TLD, _SHORT_DOMAIN, _SPECIAL_SHORT_DOMAIN, _TCO, _ASCII_DOMAIN):
        _regex(pattern)


def url_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each URL X would count as 23, as indices into NFC-normalised `text`."""
    normalized = unicodedata.normalize("NFC", text)
    return [(start, start + length) for start, length in _url_entities(normalized)]


def _url_entities(text: str) -> list[tuple[int, int]]:
    """(start, length) of every URL, as twitter-text's extractUrlsWithIndices finds them.

    The expression runs word by word (with the space before each word, which it may take as the
    character before a URL), and only over words with a dot and a TLD: on a long dotted run
    without one its backtracking is quadratic.
    """
    found: list[tuple[int, int]] = []
    for word in _WORD.finditer(text):
        if "." in word.group() and _regex(_DOT_TLD).search(word.group()):
            offset = max(word.start() - 1, 0)
            found += [(offset + s, n) for s, n in _urls_in(text[offset : word.end()])]
    return found


def _urls_in(text: str) -> list[tuple[int, int]]:
    found: list[list[int]] = []
    for match in _regex(_URL).finditer(text):
        before, url, protocol, domain, path = match.group(
            "before", "url", "protocol", "domain", "path"
        )
        start = match.start("url")
        if not _acceptable_host(url, protocol or "https://", domain):
            continue
        if protocol:
            tco = _regex(_TCO).match(url)
            if tco and len(tco.group(1)) > _MAX_TCO_SLUG:
                continue
            found.append([start, len(tco.group(0) if tco else url)])
            continue
        if _BAD_BEFORE_BARE_DOMAIN.search(before):
            continue
        # Without a protocol only the ASCII (and Latin-accented) part of a domain is a link:
        # "日本chinhphu.vn" links "chinhphu.vn".
        last: list[int] | None = None
        for ascii_match in _regex(_ASCII_DOMAIN).finditer(domain):
            ascii_domain = ascii_match.group()
            last = [start + ascii_match.start(), len(ascii_domain)]
            if (
                path
                or _regex(_SPECIAL_SHORT_DOMAIN).match(ascii_domain)
                or not _regex(_SHORT_DOMAIN).match(ascii_domain)
            ):
                found.append(last)
        if last is not None and path:
            last[1] += len(url) - len(domain)
    return [(start, length) for start, length in found]


def _acceptable_host(url: str, protocol: str, domain: str) -> bool:
    """twitter-text's isValidUrl: DNS-sized labels once punycoded, and not absurdly long."""
    if domain.startswith("xn--") and not _regex(_ASCII_DOMAIN).search(domain):
        return False
    for label in domain.split("."):
        if not 1 <= _punycoded_length(label) <= _MAX_LABEL_LENGTH:
            return False
    # As twitter-text does: the protocol is added though `url` may start with it; JS counts UTF-16.
    return len(protocol) + _utf16_length(url) <= _MAX_URL_LENGTH


def _punycoded_length(label: str) -> int:
    """Length of punycode.js toASCII(label): 'xn--' plus RFC 3492 for each non-ASCII part."""
    parts = _IDN_DOTS.split(label)
    encoded = sum(len(p) if p.isascii() else 4 + len(p.encode("punycode")) for p in parts)
    return encoded + len(parts) - 1


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --- Emoji ---------------------------------------------------------------------------------------

# Extended_Pictographic (Unicode emoji-data.txt; stable since Emoji 13, with reserved blocks).
_PICTOGRAPHIC_RANGES = (
    (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049), (0x2122, 0x2122),
    (0x2139, 0x2139), (0x2194, 0x2199), (0x21A9, 0x21AA), (0x231A, 0x231B), (0x2328, 0x2328),
    (0x2388, 0x2388), (0x23CF, 0x23CF), (0x23E9, 0x23F3), (0x23F8, 0x23FA), (0x24C2, 0x24C2),
    (0x25AA, 0x25AB), (0x25B6, 0x25B6), (0x25C0, 0x25C0), (0x25FB, 0x25FE), (0x2600, 0x2605),
    (0x2607, 0x2612), (0x2614, 0x2685), (0x2690, 0x2705), (0x2708, 0x2712), (0x2714, 0x2714),
    (0x2716, 0x2716), (0x271D, 0x271D), (0x2721, 0x2721), (0x2728, 0x2728), (0x2733, 0x2734),
    (0x2744, 0x2744), (0x2747, 0x2747), (0x274C, 0x274C), (0x274E, 0x274E), (0x2753, 0x2755),
    (0x2757, 0x2757), (0x2763, 0x2767), (0x2795, 0x2797), (0x27A1, 0x27A1), (0x27B0, 0x27B0),
    (0x27BF, 0x27BF), (0x2934, 0x2935), (0x2B05, 0x2B07), (0x2B1B, 0x2B1C), (0x2B50, 0x2B50),
    (0x2B55, 0x2B55), (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297), (0x3299, 0x3299),
    (0x1F000, 0x1F0FF), (0x1F10D, 0x1F10F), (0x1F12F, 0x1F12F), (0x1F16C, 0x1F171),
    (0x1F17E, 0x1F17F), (0x1F18E, 0x1F18E), (0x1F191, 0x1F19A), (0x1F1AD, 0x1F1E5),
    (0x1F201, 0x1F20F), (0x1F21A, 0x1F21A), (0x1F22F, 0x1F22F), (0x1F232, 0x1F23A),
    (0x1F23C, 0x1F23F), (0x1F249, 0x1F3FA), (0x1F400, 0x1F53D), (0x1F546, 0x1F64F),
    (0x1F680, 0x1F6FF), (0x1F774, 0x1F77F), (0x1F7D5, 0x1F7FF), (0x1F80C, 0x1F80F),
    (0x1F848, 0x1F84F), (0x1F85A, 0x1F85F), (0x1F888, 0x1F88F), (0x1F8AE, 0x1F8FF),
    (0x1F90C, 0x1F93A), (0x1F93C, 0x1F945), (0x1F947, 0x1FAFF), (0x1FC00, 0x1FFFD),
)  # fmt: skip
_PICT = "[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _PICTOGRAPHIC_RANGES) + "]"
# Which pictographs VS16 (U+FE0F) joins, as twemoji's expression has it: those with an emoji
# variation sequence. In the BMP that is all but the few below; beyond it, only these.
_BMP_WITHOUT_VS16 = (
    "\u23e9-\u23ec\u23f0\u23f3\u267e\u26ce\u2705\u2728\u274c\u274e\u2753-\u2755\u2795-\u2797"
    "\u27b0\u27bf"
)
_ASTRAL_WITH_VS16 = (
    "\U0001f004\U0001f170\U0001f171\U0001f17e\U0001f17f\U0001f202\U0001f21a\U0001f22f"
    "\U0001f237\U0001f321\U0001f324-\U0001f32c\U0001f336\U0001f37d\U0001f396\U0001f397"
    "\U0001f399-\U0001f39b\U0001f39e\U0001f39f\U0001f3cb-\U0001f3ce\U0001f3d4-\U0001f3df"
    "\U0001f3f3\U0001f3f5\U0001f3f7\U0001f43f\U0001f441\U0001f4fd\U0001f549\U0001f54a"
    "\U0001f56f\U0001f570\U0001f573-\U0001f579\U0001f587\U0001f58a-\U0001f58d\U0001f590"
    "\U0001f5a5\U0001f5a8\U0001f5b1\U0001f5b2\U0001f5bc\U0001f5c2-\U0001f5c4"
    "\U0001f5d1-\U0001f5d3\U0001f5dc-\U0001f5de\U0001f5e1\U0001f5e3\U0001f5e8\U0001f5ef"
    "\U0001f5f3\U0001f5fa\U0001f6cb\U0001f6cd-\U0001f6cf\U0001f6e0-\U0001f6e5\U0001f6e9"
    "\U0001f6f0\U0001f6f3"
)
_TAKES_VS16 = rf"(?:(?![{_BMP_WITHOUT_VS16}])(?=[\u0000-\uffff]){_PICT}|[{_ASTRAL_WITH_VS16}])"
_ELEMENT = rf"(?:{_TAKES_VS16}\ufe0f|{_PICT}[\U0001f3fb-\U0001f3ff]|{_PICT})"  # VS16, skin tone
_EMOJI = re.compile(
    "[#*0-9]\ufe0f?\u20e3"  # keycap
    "|[\U0001f1e6-\U0001f1ff]{2}"  # flag: a pair of regional indicators
    "|\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f"  # subdivision flag (England, Scotland…)
    rf"|{_ELEMENT}(?:\u200d{_ELEMENT})*"  # a pictograph, or a ZWJ sequence of them
)


def _emoji_entities(text: str) -> dict[int, int]:
    """start -> length of each emoji sequence longer than one code point.

    A lone pictograph needs no entry: it weighs 2 by its code point already, and the two that
    would weigh 1 (©, ®) are text to twemoji too.
    """
    return {m.start(): len(m.group()) for m in _EMOJI.finditer(text) if len(m.group()) > 1}


# --- Weighing ------------------------------------------------------------------------------------


def weighted_length(text: str, *, emoji_parsing: bool = True) -> int:
    """The length X gives `text`: twitter-text v3 parseTweet(text).weightedLength.

    `emoji_parsing=False` weighs emoji by their code points, as config v2 did; X no longer does,
    but the conformance file's v2 section is checked with it.
    """
    text = unicodedata.normalize("NFC", text)
    urls = dict(_url_entities(text))
    emoji = _emoji_entities(text) if emoji_parsing else {}
    total = 0
    index = 0
    while index < len(text):
        # A URL wins over an emoji starting at the same place, as in parseTweet.
        if index in urls:
            total += X_URL_WEIGHT
            index += urls[index]
        elif index in emoji:
            total += _EMOJI_WEIGHT
            index += emoji[index]
        else:
            total += _code_point_weight(ord(text[index]))
            index += 1
    return total


def _code_point_weight(code_point: int) -> int:
    for low, high in _LIGHT_RANGES:
        if low <= code_point <= high:
            return 1
    return _HEAVY
