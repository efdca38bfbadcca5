/**
 * Masking of citizens' personal data in free text (12345 ticket content, titles cut from it,
 * log lines): phone numbers in the forms people actually type, ID card numbers, and names in
 * the phrasings tickets use. Pure and idempotent: masking masked text changes nothing.
 *
 * It errs on the side of masking: a number that merely looks like a phone number is masked too.
 * Public service numbers are left alone only where they cannot be told apart from amounts —
 * 12345 itself is never touched.
 */

/** Full-width digits, plus, hyphen, parentheses and the ideographic space typed in Chinese IMEs. */
function halfWidth(text: string): string {
  return text.replace(/[\uff10-\uff19\uff0b\uff0d\uff08\uff09\u3000\u2010-\u2015\u2212]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code >= 0xff10 && code <= 0xff19) return String.fromCharCode(code - 0xff10 + 48);
    if (c === '\uff0b') return '+';
    if (c === '\uff08') return '(';
    if (c === '\uff09') return ')';
    if (c === '\u3000') return ' ';
    return '-';
  });
}

const SEP = '[ \\-.]?';
const D = (n: number) => `(?:${SEP}\\d){${n}}`;
const COUNTRY = `(?:(?:\\+|00)${SEP}86${SEP}|\\(\\+?86\\)${SEP})`;
/** Not followed by what makes a number an amount, a year or a count. */
const NOT_QUANTITY = '(?![\\d.元万亿年月日号%％个人户次起件元㎡平])';

const ID_18 = new RegExp(
  `(?<![\\dA-Za-z])[1-9]\\d{5}${SEP}(?:18|19|20)\\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\\d|3[01])${SEP}\\d{3}[\\dXx](?![\\dA-Za-z])`,
  'g',
);
/** Anything 17 digits + digit/X that the dated pattern missed (a mistyped birth date is still an ID). */
const ID_LOOSE = /(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])/g;
/** First-generation 15-digit numbers (yymmdd birth date). */
const ID_15 = /(?<![\dA-Za-z])[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![\dA-Za-z])/g;
const MOBILE = new RegExp(`(?<![\\d+])${COUNTRY}?1[3-9]\\d${D(8)}(?!\\d)`, 'g');
/** Landlines: 0 + area code, or +86 + area code without the 0; optional extension. */
const LANDLINE = new RegExp(
  `(?<![\\d+])(?:${COUNTRY}\\(?[1-9]\\d{1,2}\\)?|\\(?0[1-9]\\d{1,2}\\)?)${SEP}\\d{3,4}${SEP}\\d{4}(?:${SEP}(?:转|ext\\.?|-)${SEP}\\d{1,6})?(?!\\d)`,
  'g',
);
const NATIONAL = new RegExp(`(?<!\\d)[48]00${D(7)}(?!\\d)`, 'g');
const SERVICE_95 = new RegExp(`(?<!\\d)95\\d{3}(?:\\d{3})?${NOT_QUANTITY}`, 'g');

const ID_MASK = '[身份证号已隐去]';

function digits(text: string): string {
  return text.replace(/\D/g, '');
}

/** Keep the first `head` and last `tail` digits of a number, stars between. */
function keep(d: string, head: number, tail: number): string {
  return `${d.slice(0, head)}${'*'.repeat(Math.max(0, d.length - head - tail))}${d.slice(d.length - tail)}`;
}

/**
 * Common single-character surnames (百家姓, by frequency) and compound ones. Names after
 * "我是/我叫/本人" are masked only when they start with one, so "我是本小区业主" stays as it is.
 */
const SURNAMES = new Set(
  '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝'.split(
    '',
  ),
);
const COMPOUND_SURNAMES = ['欧阳', '司马', '上官', '诸葛', '东方', '皇甫', '尉迟', '公孙', '慕容', '令狐', '长孙', '宇文', '司徒', '夏侯'];

/** A labelled name: 姓名：X, 联系人X, 投诉人：X … — masked whatever its first character. */
const LABELLED_NAME =
  /(姓名|名字|联系人|来电人|投诉人|举报人|反映人|申请人|求助人|诉求人|当事人|户主|车主|业主|市民|居民|群众)([:：]?\s?)([\u4e00-\u9fa5·]{2,4}?)(?=$|[\s,，。；;：:、！!？?（(）)]|先生|女士|反映|来电|投诉|举报|称|说|表示|的|电话|手机|联系|住|家住|身份证)/g;
/** Self-introduction: 我是X, 我叫X, 本人X — masked only when X starts with a surname. */
const SELF_NAME =
  /(我叫|我是|本人是|本人叫|本人|我姓名是|我的名字是|我名叫)([\u4e00-\u9fa5]{2,3}?)(?=$|[\s,，。；;、！!？?（(]|反映|来电|投诉|举报|家住|住在|住|电话|手机|联系|身份证|的)/g;

function maskName(name: string): string {
  const compound = COMPOUND_SURNAMES.find((s) => name.startsWith(s));
  const surname = compound ?? name[0]!;
  return `${surname}${'*'.repeat(Math.max(1, [...name].length - [...surname].length))}`;
}

function startsWithSurname(name: string): boolean {
  return SURNAMES.has(name[0]!) || COMPOUND_SURNAMES.some((s) => name.startsWith(s));
}

/** Words that follow the cues above but are not names (or are names already anonymised: 张某某, 钱先生). */
const NOT_NAMES =
  /某|先生$|女士$|师傅$|阿姨$|^(本人|本小区|小区|业主|居民|市民|群众|租户|住户|家长|学生|老师|司机|患者|工人|村民|农民|个体|商户|一名|一位|外地|本地|本市|附近|楼上|楼下|某某|某|匿名)/;

export function maskPersonalData(text: string): string {
  if (text === '') return text;
  let out = halfWidth(text);
  // IDs first: an ID number contains runs that look like phone numbers.
  out = out.replace(ID_18, ID_MASK).replace(ID_LOOSE, ID_MASK).replace(ID_15, ID_MASK);
  out = out.replace(MOBILE, (m) => {
    const d = digits(m);
    const national = d.slice(-11);
    const country = d.length > 11 ? '+86 ' : '';
    return `${country}${keep(national, 3, 4)}`;
  });
  out = out.replace(LANDLINE, (m) => {
    const [main, ext] = m.split(/转|ext\.?/);
    let d = digits(main!);
    // +86 10 … is 010 …: national form, then 010/02x area codes are three digits, the rest four.
    if (/^(\+|00|\(\+?86\))/.test(m)) d = `0${d.replace(/^(00)?86/, '')}`;
    const area = /^0(10|2\d)/.test(d) ? 3 : 4;
    return `${d.slice(0, area)}-${keep(d.slice(area), 0, 4)}${ext !== undefined ? '转**' : ''}`;
  });
  out = out.replace(NATIONAL, (m) => keep(digits(m), 3, 4));
  out = out.replace(SERVICE_95, (m) => keep(m, 2, 0));
  out = out.replace(LABELLED_NAME, (whole, label: string, sep: string, name: string) =>
    NOT_NAMES.test(name) || name.includes('*') ? whole : `${label}${sep}${maskName(name)}`,
  );
  out = out.replace(SELF_NAME, (whole, cue: string, name: string) =>
    !startsWithSurname(name) || NOT_NAMES.test(name) ? whole : `${cue}${maskName(name)}`,
  );
  return out;
}

/** Every string in a JSON-like value masked (objects and arrays copied, other values kept). */
export function maskPersonalDataDeep<T>(value: T): T {
  if (typeof value === 'string') return maskPersonalData(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => maskPersonalDataDeep(v)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskPersonalDataDeep(v)])) as T;
  }
  return value;
}

/** House-level address detail: a number before 号/号楼/号院/栋/幢/单元/室/层/楼 (not 号线, a metro line). */
const HOUSE_NUMBER = /\d+(?:-\d+)*\s?(号楼|号院|号(?!线)|栋|幢|单元|室|层|楼)/g;

/**
 * A short field a hotline system fills in — its ticket id (工单编号), 所属区域, 诉求类型, 承办单位 —
 * as it may travel on the bus and rest in the signals row. Such fields are identifiers and
 * classifications that grouping and routing compare whole (monitoring rules name areas and
 * categories), so a value holding nothing maskPersonalData would mask comes back exactly as
 * written (full-width brackets and digits too: maskPersonalData folds them, and a rule naming
 * 鼓楼区（东街街道） must still match). A value holding a phone or ID number, or a name after a
 * cue, comes back masked as text is. With `address`, a house-level address (门牌号, 楼栋, 单元,
 * 室) is masked as well: an area finer than any 区/街道/社区 a rule names is where a citizen lives.
 */
export function maskPersonalField(value: string, options: { address?: boolean } = {}): string {
  let masked = maskPersonalData(value);
  if (options.address) masked = masked.replace(HOUSE_NUMBER, (_m, unit: string) => `*${unit}`);
  return masked === halfWidth(value) ? value : masked;
}
