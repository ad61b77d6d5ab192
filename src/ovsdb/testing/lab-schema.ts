/**
 * A small schema exercising every column kind, shared by unit specs and written to a
 * temp file by integration tests. Not exported from the library's index.
 */
import type { JsonObject } from '../wire/json';

export const LAB_SCHEMA: JsonObject = {
  name: 'Lab',
  version: '1.0.0',
  tables: {
    Switch: {
      isRoot: true,
      indexes: [['name']],
      columns: {
        name: { type: 'string', mutable: false },
        enabled: { type: 'boolean' },
        ratio: { type: 'real' },
        weight: { type: { key: { type: 'integer', minInteger: 0, maxInteger: 100 } } },
        mode: { type: { key: { type: 'string', enum: ['set', ['fast', 'slow']] }, min: 0, max: 1 } },
        tags: { type: { key: 'integer', min: 0, max: 'unlimited' } },
        ports: { type: { key: { type: 'uuid', refTable: 'Port' }, min: 0, max: 'unlimited' } },
        other: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
        vlans: { type: { key: 'integer', value: 'string', min: 0, max: 'unlimited' } },
      },
    },
    Port: {
      columns: {
        name: { type: 'string' },
        tag: { type: { key: 'integer', min: 0, max: 1 } },
        peer: { type: { key: { type: 'uuid', refTable: 'Port', refType: 'weak' }, min: 0, max: 1 } },
        ext: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
      },
    },
    Counter: {
      isRoot: true,
      columns: {
        name: { type: 'string' },
        value: { type: 'integer' },
      },
    },
  },
};

export interface LabSwitch {
  _uuid: string;
  name: string;
  enabled: boolean;
  ratio: number;
  weight: number;
  mode: 'fast' | 'slow' | null;
  tags: number[];
  ports: string[];
  other: Record<string, string>;
  vlans: Map<number, string>;
}
export interface LabPort {
  _uuid: string;
  name: string;
  tag: number | null;
  peer: string | null;
  ext: Record<string, string>;
}
export interface LabCounter {
  _uuid: string;
  name: string;
  value: number;
}
export interface LabModel {
  Switch: LabSwitch;
  Port: LabPort;
  Counter: LabCounter;
}
