/** The e2e benchmark's 12345 tickets (bench/e2e/load.ts). */
// Distinct matters, so that grouping opens an incident per matter (identical tickets would all
// join one incident and measure one incident's writes): every `joinEvery`-th ticket repeats the
// matter of the ticket before it (same category and area, the same words: a 12345 burst, which
// joins), the others each tell a new matter in words drawn at random from common characters.
// With the default --join-every 5: 80 % new matters, 20 % joining. ≈ 300 bytes of JSON per
// ticket, like the raw Kafka records beside it.
const CHARS =
  '的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严';
/** xorshift32 seeded with FNV-1a of the key: the same matter always gets the same words. */
function rand(key: string): () => number {
  let x = 2166136261;
  for (let i = 0; i < key.length; i++) x = Math.imul(x ^ key.charCodeAt(i), 16777619) >>> 0;
  x ||= 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}
const words = (r: () => number, n: number) => Array.from({ length: n }, () => CHARS[Math.floor(r() * CHARS.length)]).join('');
const CATEGORIES = ['投诉', '求助', '咨询', '建议', '举报'];
const AREAS = ['东城区', '西城区', '南湖区', '北塘区', '高新区', '江滨区'];
export function benchTicket(i: number, o: { prefix: string; joinEvery: number; receivedAt: string }) {
  const matter = o.joinEvery > 0 && i % o.joinEvery === o.joinEvery - 1 ? i - 1 : i;
  // Each prefix (a phase of the benchmark) tells its own matters.
  const r = rand(`${o.prefix}${matter}`);
  return {
    id: `${o.prefix}${i}`,
    receivedAt: o.receivedAt,
    title: `市民反映${words(r, 14)}`,
    content: `来电称${words(r, 50)}。${matter === i ? '' : '再次来电催问。'}`,
    category: CATEGORIES[matter % CATEGORIES.length],
    area: AREAS[Math.floor(matter / CATEGORIES.length) % AREAS.length],
  };
}
