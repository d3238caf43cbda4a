#!/usr/bin/env python3
"""A month at a sales office, with the truth of who brought whom.

Writes CSV files into the output directory (argument 1):
  captures.csv   project, camera_id, captured_at, face, quality, masked   (project: main | sister)
  visits.csv     tperson, tvisit, camera_id, captured_at (first capture), consultant_id, agent_id
  persons.csv    tperson, phone, first_camera_id, first_captured_at
  reports.csv    agent_id, phone (full or 138****8000), reported_at
  deals.csv      deal_key, tperson, co_tperson, signed_at, price, channel_id, agent_id, consultant_id,
                 expected_channel_id, expected_agent_id, expected_flags, kind, scored
                 (scored: signed in the month; deals of the 25-day warm-up are history)
Faces: 128 dimensions, a random unit centre per person plus Gaussian noise per capture.
Channels: 1 = natural (made by create_project; the loader maps it), 11..14 agencies with agents
21..32 (three each), consultants 1..8.  Times are Asia/Shanghai local (+08).
"""
import csv
import math
import os
import random
import sys
from datetime import datetime, timedelta

out = sys.argv[1]
seed = int(os.environ.get('SEED', '7'))
n_persons = int(os.environ.get('PERSONS', '1200'))
dims = 128
rnd = random.Random(seed)
start = datetime(2024, 3, 1)
days = 30
agencies = {11: [21, 22, 23], 12: [24, 25, 26], 13: [27, 28, 29], 14: [30, 31, 32]}
agent_channel = {a: c for c, ags in agencies.items() for a in ags}
consultants = list(range(1, 9))
cameras = ['gate', 'sign_in', 'sand', 'model']
NAT = 'N'		# the natural channel, mapped by the loader


def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def face(centre):
    return unit([c + rnd.gauss(0, 0.012) for c in centre])


def fmt(v):
    return '[' + ','.join('%.5f' % x for x in v) + ']'


def ts(d):
    return d.strftime('%Y-%m-%d %H:%M:%S.%f') + '+08'


used_times = set()


def at_time(day, hour, minute):
    t = start + timedelta(days=day, hours=hour, minutes=minute, microseconds=rnd.randrange(1000000))
    while t in used_times:
        t += timedelta(microseconds=1)
    used_times.add(t)
    return t


captures = []
visits = []
persons = []
reports = []
deals = []


def add_visit(p, tvisit, day, consultant, agent, project='main'):
    hour = rnd.randrange(9, 19)
    minute = rnd.randrange(0, 50)
    first = None
    n = rnd.randrange(2, 5)
    for k in range(n):
        t = at_time(day, hour, minute + k * rnd.randrange(2, 6))
        cam = cameras[min(k, 3)]
        captures.append((project, cam, ts(t), fmt(face(p['centre'])), '%.2f' % rnd.uniform(0.6, 0.99), 'false'))
        if first is None:
            first = (cam, t)
    if project == 'main':
        visits.append((p['id'], tvisit, first[0], ts(first[1]), consultant or '', agent or ''))
    return first


def phone():
    return '1%d%09d' % (rnd.choice([3, 5, 8]), rnd.randrange(10 ** 9))


# persons: 55% natural first visits, 45% brought by a reported agent
kinds = []
for i in range(n_persons):
    p = {'id': i + 1, 'centre': unit([rnd.gauss(0, 1) for _ in range(dims)]), 'phone': phone()}
    p['agency_first'] = rnd.random() < 0.45
    p['agent'] = rnd.choice(list(agent_channel)) if p['agency_first'] else None
    p['consultant'] = rnd.choice(consultants)
    p['seen_elsewhere'] = rnd.random() < 0.04
    persons.append(p)

deal_key = 0
for p in persons:
    buys = rnd.random() < 0.4
    abnormal = buys and not p['agency_first'] and rnd.random() < 0.06
    # a warm-up of 25 days before the month gives every channel a steady history of
    # deals (deals signed in the warm-up are loaded but not scored: early in an empty
    # history only short cycles exist, which would bias the abnormal_cycle statistics)
    if abnormal:
        first_day = rnd.randrange(-25, -2)
        cycle = rnd.uniform(28, 29.5)
    else:
        first_day = rnd.randrange(-25, 19)
        cycle = rnd.uniform(4, 9)
    if not buys:
        first_day = rnd.randrange(-25, days)
    # fraud type of the deal (decided up front: it shapes the visits)
    fraud = None
    if buys and not abnormal:
        r = rnd.random()
        if not p['agency_first'] and r < 0.18:
            fraud = 'flying_order'
        elif p['agency_first'] and r < 0.15:
            fraud = 'protection_conflict'
        elif p['agency_first'] and r < 0.27:
            fraud = 'hanging_order'
        elif r < 0.40:
            fraud = 'consultant_conflict'
    if p['seen_elsewhere']:
        # seen a month earlier at the sister project of the same group
        add_visit(p, 0, -40 + rnd.randrange(0, 5), None, None, project='sister')
    # visits
    n_visits = rnd.randrange(1, 5)
    if buys:
        last = max(first_day, int(first_day + cycle) - 1)
        vdays = sorted(set([first_day] + [rnd.randrange(first_day, last + 1) for _ in range(n_visits - 1)]))
    else:
        vdays = sorted(set([first_day] + [min(days - 1, first_day + rnd.randrange(0, 12)) for _ in range(n_visits - 1)]))
    other_agent = None
    if fraud == 'protection_conflict':
        other_channel = rnd.choice([c for c in agencies if c != agent_channel[p['agent']]])
        other_agent = rnd.choice(agencies[other_channel])
        if len(vdays) < 2:
            vdays.append(min(vdays[0] + 1, int(first_day + cycle)))
            vdays = sorted(set(vdays))
        if len(vdays) < 2:
            fraud = None
    for k, d in enumerate(vdays):
        agent = p['agent'] if (k == 0 and p['agency_first']) else None
        if fraud == 'protection_conflict' and k == 1:
            agent = other_agent
        cons = p['consultant']
        if fraud == 'consultant_conflict' and k > 0:
            cons = p['consultant']		# the owner keeps receiving; the deal names another
        first = add_visit(p, k, d, cons, agent)
        if k == 0:
            p['first'] = first
        if agent is not None:
            # the report: 1 to 48 hours before the visit, half of them masked
            rt = first[1] - timedelta(hours=rnd.uniform(1, 48))
            ph = p['phone'] if rnd.random() < 0.5 else p['phone'][:3] + '****' + p['phone'][-4:]
            reports.append((agent, ph, ts(rt)))
    persons_row = (p['id'], p['phone'], p['first'][0], ts(p['first'][1]))
    p['row'] = persons_row
    if not buys:
        continue
    deal_key += 1
    # every visit falls on a day before the signing day (vdays <= first_day + cycle - 1)
    signed = p['first'][1] + timedelta(days=cycle)
    truth_channel = agent_channel[p['agent']] if p['agency_first'] else NAT
    truth_agent = p['agent'] if p['agency_first'] else None
    claim_channel, claim_agent, claim_cons = truth_channel, truth_agent, p['consultant']
    flags = []
    if fraud == 'flying_order':
        claim_agent = rnd.choice(list(agent_channel))
        claim_channel = agent_channel[claim_agent]
        flags = ['flying_order', 'hanging_order_suspect']	# the claiming agent never came
    elif fraud == 'protection_conflict':
        claim_agent = other_agent
        claim_channel = agent_channel[other_agent]
        flags = ['protection_conflict']
    elif fraud == 'hanging_order':
        claim_agent = rnd.choice([a for a in agencies[agent_channel[p['agent']]] if a != p['agent']])
        flags = ['hanging_order_suspect']
    elif fraud == 'consultant_conflict':
        claim_cons = rnd.choice([c for c in consultants if c != p['consultant']])
        flags = ['consultant_conflict']
    if abnormal:
        flags.append('abnormal_cycle')
    if p['seen_elsewhere']:
        flags.append('prior_visit_elsewhere')
    # consultant ownership is 30 days: every deal here is inside it
    deals.append((deal_key, p['id'], '', ts(signed), rnd.randrange(150, 600) * 10000,
                  '' if claim_channel == NAT else claim_channel, claim_agent or '', claim_cons,
                  truth_channel, truth_agent or '', '{' + ','.join(sorted(flags)) + '}', fraud or ('abnormal' if abnormal else 'honest'),
                  'true' if signed >= start else 'false'))

# co-buyers: some honest deals get a spouse who first came after the buyer, alone
for i, dl in enumerate(deals):
    if dl[11] != 'honest' or rnd.random() > 0.15:
        continue
    p = persons[dl[1] - 1]
    s = {'id': len(persons) + 1, 'centre': unit([rnd.gauss(0, 1) for _ in range(dims)]), 'phone': phone(),
         'agency_first': False, 'agent': None, 'consultant': p['consultant'], 'seen_elsewhere': False}
    fday = (p['first'][1] - start).days + 1
    signed = datetime.strptime(dl[3][:19], '%Y-%m-%d %H:%M:%S')
    if fday >= (signed - start).days:
        continue
    s['first'] = add_visit(s, 0, fday, p['consultant'], None)
    s['row'] = (s['id'], s['phone'], s['first'][0], ts(s['first'][1]))
    persons.append(s)
    deals[i] = dl[:2] + (s['id'],) + dl[3:11] + ('cobuyer', dl[12])

os.makedirs(out, exist_ok=True)
with open(os.path.join(out, 'captures.csv'), 'w', newline='') as f:
    csv.writer(f).writerows(sorted(captures, key=lambda c: c[2]))
with open(os.path.join(out, 'visits.csv'), 'w', newline='') as f:
    csv.writer(f).writerows(visits)
with open(os.path.join(out, 'persons.csv'), 'w', newline='') as f:
    csv.writer(f).writerows(p['row'] for p in persons if 'row' in p)
with open(os.path.join(out, 'reports.csv'), 'w', newline='') as f:
    csv.writer(f).writerows(reports)
with open(os.path.join(out, 'deals.csv'), 'w', newline='') as f:
    csv.writer(f).writerows(deals)
print('persons %d, visits %d, captures %d (sister %d), reports %d, deals %d (%d in the month)' % (
    len(persons), len(visits), sum(1 for c in captures if c[0] == 'main'), sum(1 for c in captures if c[0] == 'sister'),
    len(reports), len(deals), sum(1 for d in deals if d[12] == 'true')))
