import { ArmNames, type ArmName } from './arms.js';

/**
 * Side by side: the arms whose CPU is compared run at the same time, each in its own server processes (lanes), so
 * that they share whatever the machine does meanwhile. Run one after another, as in the rounds, two copies of the
 * same arm minutes apart landed 10 to 20 ms per 1000 connections per period apart at 100 000 on a shared VM, 10 to 20
 * times the bookkeeping target; at the same time, within a few ms.
 */

/** The arms compared side by side: the floor, lifeline's rivals, lifeline, and the floor's copy (the resolution). */
export const SIDE_BY_SIDE_ARMS: readonly ArmName[] = [
  ArmNames.IO_FLOOR, ArmNames.WS_RECIPE, ArmNames.PER_SOCKET_TIMERS, ArmNames.SOCKET_TIMEOUT, ArmNames.LIFELINE, ArmNames.IO_FLOOR_AGAIN,
];

/** The side-by-side arms among those chosen for the run, in SIDE_BY_SIDE_ARMS order. */
export function sideBySideArms(chosen: readonly ArmName[]): ArmName[] {
  return SIDE_BY_SIDE_ARMS.filter((arm) => chosen.includes(arm));
}

/**
 * Which arm each lane (server process) runs in round `round` (from 1): the arms in turn, shifted by one lane per
 * round, so that over as many rounds as there are arms every arm has run on every lane once (a lane's client, its
 * source addresses, where the scheduler puts it). Every arm gets processes / arms lanes.
 */
export function laneArms(arms: readonly ArmName[], processes: number, round: number): ArmName[] {
  if (arms.length < 2 || !arms.includes(ArmNames.IO_FLOOR)) {
    throw new Error(`side by side needs io-floor and at least one other arm, got ${arms.join(', ') || 'none'}`);
  }
  if (!Number.isInteger(processes) || processes < arms.length || processes % arms.length !== 0) {
    throw new Error(`side by side needs a multiple of ${arms.length} server processes (as many lanes for each of ${arms.join(', ')}), got ${processes}`);
  }
  if (!Number.isInteger(round) || round < 1) throw new Error(`round must be a whole number from 1, got ${round}`);
  return Array.from({ length: processes }, (_, lane) => arms[(lane + round - 1) % arms.length]!);
}
