import { describe, expect, it } from 'vitest';
import { chinaCalendar } from '../src/calendar-cn.ts';
import {
  bigramSimilarity,
  canonicalLink,
  channelSilence,
  classifyOrigin,
  isNewsOutlet,
  matchOfficialItem,
  type IncidentEvidence,
} from '../src/official-channel.ts';

const cal = chinaCalendar();
const at = (iso: string) => Date.parse(iso);

describe('bigram similarity', () => {
  it('is 1 for the same text whatever the punctuation and width, 0 for nothing shared', () => {
    expect(bigramSimilarity('某小区电梯频繁故障！', '某小区 电梯频繁故障')).toBe(1);
    expect(bigramSimilarity('ＡＢＣ', 'abc')).toBe(1);
    expect(bigramSimilarity('河道黑臭', '电梯故障')).toBe(0);
    expect(bigramSimilarity('', '电梯故障')).toBe(0);
  });

  it('ranks a response about the matter above an unrelated notice', () => {
    const matter = '锦华小区电梯频繁故障 居民出行困难';
    expect(bigramSimilarity('关于锦华小区电梯故障的情况通报', matter)).toBeGreaterThan(
      bigramSimilarity('市住建局召开安全生产工作会议', matter),
    );
  });
});

describe('links', () => {
  it.each([
    ['https://www.Example.com/a/b/#top', 'example.com/a/b'],
    ['http://example.com/a?x=1', 'example.com/a?x=1'],
  ])('%s → %s', (url, key) => expect(canonicalLink(url)).toBe(key));
});

describe('original or repost', () => {
  it.each([
    ['新华网', true],
    ['人民日报', true],
    ['某某市融媒体中心', true],
    ['澎湃新闻', true],
    ['某某市住房和城乡建设局', false],
    ['某某区人民政府办公室', false],
    ['某某市人民政府网', false],
    ['市政府新闻办', false],
    ['东方网', true],
  ])('%s is a news outlet: %s', (name, outlet) => expect(isNewsOutlet(name)).toBe(outlet));

  it('a 来源 line naming a news outlet is a repost; one naming the unit is original', () => {
    expect(classifyOrigin({ title: '关于电梯故障的通报', content: '来源：新华网 2026-11-30' })).toMatchObject({ original: false });
    expect(classifyOrigin({ title: '关于电梯故障的通报', content: '转载自 人民日报客户端' }).reason).toContain('人民日报');
    expect(classifyOrigin({ title: '关于电梯故障的通报', content: '来源：市住房和城乡建设局' })).toMatchObject({ original: true });
    expect(classifyOrigin({ title: '关于电梯故障的通报' })).toMatchObject({ original: true });
  });
});

describe('matching an official item to open incidents', () => {
  const incidents: IncidentEvidence[] = [
    {
      id: 'lift',
      title: '锦华小区电梯频繁故障',
      signals: [{ title: '锦华小区电梯频繁故障 居民出行困难', url: 'https://news.example.com/a/1', news: true }],
    },
    { id: 'river', title: '城西河道黑臭', signals: [{ title: '城西河道黑臭无人管', url: null, news: true }] },
  ];

  it('a shared link is near-certain and says so', () => {
    const [m] = matchOfficialItem(
      { title: '情况通报', content: '针对 https://news.example.com/a/1/ 反映的问题', url: 'https://gov.example.cn/t/9' },
      incidents,
      0.35,
    );
    expect(m).toMatchObject({ incidentId: 'lift', confidence: 0.95, original: true });
    expect(m!.reason).toContain('shared link');
  });

  it('title similarity proposes the right incident only, with the similarity in the reason', () => {
    const matches = matchOfficialItem({ title: '关于锦华小区电梯故障的情况通报' }, incidents, 0.35);
    expect(matches.map((m) => m.incidentId)).toEqual(['lift']);
    expect(matches[0]!.confidence).toBeGreaterThan(0.35);
    expect(matches[0]!.confidence).toBeLessThan(0.9);
    expect(matches[0]!.reason).toMatch(/锦华小区电梯/);
  });

  it('a title identical to a news signal on the incident is a repost of that story', () => {
    const [m] = matchOfficialItem({ title: '城西河道黑臭无人管' }, incidents, 0.35);
    expect(m).toMatchObject({ incidentId: 'river', original: false });
    expect(m!.originReason).toContain('news signal');
  });

  it('an unrelated item matches nothing', () => {
    expect(matchOfficialItem({ title: '市住建局召开安全生产工作会议' }, incidents, 0.35)).toEqual([]);
  });
});

describe('silent channels (seed 003 六(四)5)', () => {
  // 2026-11-30 is a Monday.
  const added = at('2026-11-23T09:00:00+08:00');
  it.each([
    ['updated Monday, checked Tuesday afternoon', '2026-11-30T10:00:00+08:00', '2026-12-01T15:00:00+08:00', false],
    ['updated Monday, checked Wednesday: Tuesday passed silent', '2026-11-30T10:00:00+08:00', '2026-12-02T00:10:00+08:00', true],
    ['updated Friday, checked Monday: the weekend is not a working day', '2026-11-27T10:00:00+08:00', '2026-11-30T23:00:00+08:00', false],
    ['updated Friday, checked Tuesday: Monday passed silent', '2026-11-27T10:00:00+08:00', '2026-12-01T08:00:00+08:00', true],
  ])('working_day: %s → silent %s', (_what, last, now, silent) => {
    expect(channelSilence('working_day', { now: at(now), addedAt: added, lastItemAt: at(last), itemsInLastWeek: 1 }, cal).silent).toBe(
      silent,
    );
  });

  it('working_day across the National Day holiday: no working day, no silence', () => {
    const v = channelSilence(
      'working_day',
      {
        now: at('2026-10-07T20:00:00+08:00'),
        addedAt: at('2026-09-01T00:00:00+08:00'),
        lastItemAt: at('2026-09-30T12:00:00+08:00'),
        itemsInLastWeek: 0,
      },
      cal,
    );
    expect(v.silent).toBe(false);
  });

  it('twice_weekly: fewer than two items in seven days, once watched a week', () => {
    const o = { now: at('2026-11-30T10:00:00+08:00'), addedAt: added, lastItemAt: null };
    expect(channelSilence('twice_weekly', { ...o, itemsInLastWeek: 1 }, cal)).toMatchObject({ silent: true });
    expect(channelSilence('twice_weekly', { ...o, itemsInLastWeek: 2 }, cal)).toMatchObject({ silent: false });
    expect(channelSilence('twice_weekly', { ...o, addedAt: at('2026-11-28T00:00:00+08:00'), itemsInLastWeek: 0 }, cal).silent).toBe(false);
  });
});
