// The QCStatements certificate extension (RFC 3739, ETSI EN 319 412-5) and the PSD2 statement of
// ETSI TS 119 495. Schemas are declared with @peculiar/asn1-schema; decorators are applied as plain
// calls because Node's type stripping and Deno run this file as written, without a decorator transform.
import { AsnArray, AsnConvert, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes } from '@peculiar/asn1-schema';
import {
  id_etsi_qcs_qcCompliance,
  id_etsi_qcs_qcType,
  id_etsi_qct_eseal,
  id_etsi_qct_esign,
  id_etsi_qct_web,
  QcType,
} from '@peculiar/asn1-x509-qualified-etsi';

export { id_etsi_qcs_qcCompliance, id_etsi_qcs_qcType, id_etsi_qct_eseal, id_etsi_qct_esign, id_etsi_qct_web, QcType };

export const id_pe_qcStatements = '1.3.6.1.5.5.7.1.3';
export const id_etsi_psd2_qcStatement = '0.4.0.19495.2';

export const QC_TYPE_OIDS = {
  esign: id_etsi_qct_esign,
  eseal: id_etsi_qct_eseal,
  web: id_etsi_qct_web,
} as const;
export type QcTypeName = keyof typeof QC_TYPE_OIDS;

/** QCStatement ::= SEQUENCE { statementId OBJECT IDENTIFIER, statementInfo ANY DEFINED BY statementId OPTIONAL } */
export class QCStatement {
  statementId = '';
  /** The DER of statementInfo, decoded by whoever knows statementId. */
  statementInfo?: ArrayBuffer;
  constructor(params: Partial<QCStatement> = {}) {
    Object.assign(this, params);
  }
}
AsnProp({ type: AsnPropTypes.ObjectIdentifier })(QCStatement.prototype, 'statementId');
AsnProp({ type: AsnPropTypes.Any, optional: true })(QCStatement.prototype, 'statementInfo');

/** QCStatements ::= SEQUENCE OF QCStatement */
export class QCStatements extends AsnArray<QCStatement> {
  constructor(items?: QCStatement[]) {
    super(items);
    // Array subclasses lose their prototype when Array methods build new instances.
    Object.setPrototypeOf(this, QCStatements.prototype);
  }
}
AsnType({ type: AsnTypeTypes.Sequence, itemType: QCStatement })(QCStatements);

/** RoleOfPSP ::= SEQUENCE { roleOfPspOid RoleOfPspOid, roleOfPspName RoleOfPspName } */
export class RoleOfPSP {
  roleOfPspOid = '';
  roleOfPspName = '';
  constructor(params: Partial<RoleOfPSP> = {}) {
    Object.assign(this, params);
  }
}
AsnProp({ type: AsnPropTypes.ObjectIdentifier })(RoleOfPSP.prototype, 'roleOfPspOid');
AsnProp({ type: AsnPropTypes.Utf8String })(RoleOfPSP.prototype, 'roleOfPspName');

/** PSD2QcType ::= SEQUENCE { rolesOfPSP RolesOfPSP, nCAName NCAName, nCAId NCAId } */
export class PSD2QcType {
  rolesOfPSP: RoleOfPSP[] = [];
  nCAName = '';
  nCAId = '';
  constructor(params: Partial<PSD2QcType> = {}) {
    Object.assign(this, params);
  }
}
AsnProp({ type: RoleOfPSP, repeated: 'sequence' })(PSD2QcType.prototype, 'rolesOfPSP');
AsnProp({ type: AsnPropTypes.Utf8String })(PSD2QcType.prototype, 'nCAName');
AsnProp({ type: AsnPropTypes.Utf8String })(PSD2QcType.prototype, 'nCAId');

export interface Psd2Statement {
  roles: { oid: string; name: string }[];
  ncaName: string;
  ncaId: string;
}

/** The statements this product reads or writes; others are kept by OID only. */
export interface QcStatementsContent {
  qcCompliance: boolean;
  /** QcType OIDs; undefined when the certificate has no QcType statement. */
  qcTypes?: string[];
  psd2?: Psd2Statement;
  /** Every statementId present, in order. */
  statementIds: string[];
}

export interface QcStatementsInput {
  qcCompliance?: boolean;
  qcTypes?: QcTypeName[];
  psd2?: Psd2Statement;
}

/** The DER of a QCStatements extension value. */
export function encodeQcStatements(input: QcStatementsInput): ArrayBuffer {
  const statements = new QCStatements();
  if (input.qcCompliance) statements.push(new QCStatement({ statementId: id_etsi_qcs_qcCompliance }));
  if (input.qcTypes) {
    const info = AsnConvert.serialize(new QcType(input.qcTypes.map((name) => QC_TYPE_OIDS[name])));
    statements.push(new QCStatement({ statementId: id_etsi_qcs_qcType, statementInfo: info }));
  }
  if (input.psd2) {
    const psd2 = new PSD2QcType({
      rolesOfPSP: input.psd2.roles.map((r) => new RoleOfPSP({ roleOfPspOid: r.oid, roleOfPspName: r.name })),
      nCAName: input.psd2.ncaName,
      nCAId: input.psd2.ncaId,
    });
    statements.push(
      new QCStatement({ statementId: id_etsi_psd2_qcStatement, statementInfo: AsnConvert.serialize(psd2) }),
    );
  }
  return AsnConvert.serialize(statements);
}

/** Throws on malformed DER, including a QcType or PSD2 statement whose info does not match its schema. */
export function decodeQcStatements(der: BufferSource): QcStatementsContent {
  const statements = AsnConvert.parse(der, QCStatements);
  const content: QcStatementsContent = { qcCompliance: false, statementIds: [] };
  for (const { statementId, statementInfo } of statements) {
    content.statementIds.push(statementId);
    if (statementId === id_etsi_qcs_qcCompliance) {
      content.qcCompliance = true;
    } else if (statementId === id_etsi_qcs_qcType) {
      if (!statementInfo) throw new Error('QcType statement without statementInfo');
      content.qcTypes = [...(content.qcTypes ?? []), ...AsnConvert.parse(statementInfo, QcType)];
    } else if (statementId === id_etsi_psd2_qcStatement) {
      if (!statementInfo) throw new Error('PSD2 statement without statementInfo');
      if (content.psd2) throw new Error('more than one PSD2 statement');
      const psd2 = AsnConvert.parse(statementInfo, PSD2QcType);
      content.psd2 = {
        roles: psd2.rolesOfPSP.map((r) => ({ oid: r.roleOfPspOid, name: r.roleOfPspName })),
        ncaName: psd2.nCAName,
        ncaId: psd2.nCAId,
      };
    }
  }
  return content;
}
