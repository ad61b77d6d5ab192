/**
 * OpenFlow 1.3 with the Open vSwitch (Nicira) and ONF bundle extensions.
 * A standalone library: nothing here imports NestJS or other vnetd modules.
 */
export * from './errors';
export * from './constants';
export { FIELDS, oxm, isFieldName } from './oxm/fields';
export type { FieldName, FieldValue, KnownOxm, UnknownOxm, Oxm } from './oxm/fields';
export { checkMatch, ETH_TYPE, IP_PROTO, OFPVID_PRESENT } from './oxm/prereq';
export type { Match } from './oxm/match';
export type { Action, CtAction, MultipathAction, MultipathAlgorithm, MultipathFields, NatAction, SetFieldAction, Subfield } from './actions/types';
export { ipv4ToBytes, ipv6FromBytes, ipv6ToBytes, macFromBytes, macToBytes, parseIpv4 } from './wire/addr';
export type { Instruction } from './instructions';
export { encodeMessage, decodeMessage } from './message';
export type { OfMessage, OfMessageType, MessageOf, OfBundleAdd } from './message';
export { flowMod } from './messages/flow-mod';
export type { FlowModMessage, FlowModCommand, FlowRemovedMessage } from './messages/flow-mod';
export { bucket } from './messages/group';
export type { Bucket, GroupModMessage, GroupType } from './messages/group';
export type { MeterModMessage, MeterBand } from './messages/meter';
export { errorName, errorFromName } from './messages/error';
export type { ErrorMessage } from './messages/error';
export { BundleFlags } from './messages/bundle';
export type { BundleControlMessage, BundleControlType } from './messages/bundle';
export type { MultipartRequestBody, MultipartRequestMessage, FlowStatsSelector } from './messages/multipart-request';
export type {
  MultipartReplyBody,
  MultipartReplyMessage,
  FlowStats,
  GroupDesc,
  GroupStats,
  MeterStats,
  MeterConfig,
  PortStats,
  SwitchDesc,
  TableStats,
} from './messages/multipart-reply';
export type { PortDesc, PortModMessage, PortStatusMessage } from './messages/port';
export { OFPPC } from './messages/port';
export type { PacketInMessage, PacketOutMessage } from './messages/packet';
export type { HelloMessage } from './messages/hello';
export type * from './messages/simple';
export { formatFlow, formatMatch } from './format/flow';
export { formatAction, formatActions, formatInstructions } from './format/actions';
export { MessageFramer } from './framing';
export { createConnection, listen } from './connection';
export type { OpenFlowConnection, ConnectionOptions, OpenFlowListener } from './connection';
export { BundleWithheldError, OpenFlowRequestError, OpenFlowBundleError, OpenFlowConnectionError, OpenFlowTimeoutError } from './connection-errors';
export type { BundleFailure } from './connection-errors';
