/**
 * 12345 tickets told in the whole frame every real one has (市民来电称… 市民反映：来电称…，希望尽快处理。),
 * otherwise in words drawn at random from common characters: seven bigrams are in every ticket and
 * the characters beside the frame (称X, X市, X希) in one of a few hundred. What makes a candidate
 * look-up's cost grow with the open matters — for the pool's unit test and bench/grouping.ts.
 */
import type { GroupingSubject } from '../src/grouping.ts';

const CHARS =
  '的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处府';

/**
 * A maker of such tickets, seeded (mulberry32), so runs compare: each call draws on from where the
 * last stopped. With `retellEvery` k, every k-th ticket tells the story of the one before it again
 * (the same content, another title): a matter that joins.
 */
export function frameTicketMaker(seed: number) {
  let state = seed;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const words = (n: number) => Array.from({ length: n }, () => CHARS[Math.floor(random() * CHARS.length)]).join('');
  return (n: number, o: { at?: number; retellEvery?: number } = {}): GroupingSubject[] => {
    let story = '';
    return Array.from({ length: n }, (_, i) => {
      const title = `市民来电称${words(12)}`;
      story = o.retellEvery && i % o.retellEvery === o.retellEvery - 1 ? story : words(64);
      return {
        id: `t${i}`,
        source: 'hotline' as const,
        at: (o.at ?? 0) + i * 1000,
        title,
        content: `市民反映：来电称${story}，希望尽快处理。`,
        category: ['投诉', '建议', '举报'][i % 3]!,
        area: ['城南区', '城北区'][i % 2]!,
      };
    });
  };
}
