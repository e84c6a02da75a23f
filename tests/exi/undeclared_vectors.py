"""EXI streams that use what V2G peers normally do not: xsi:type, xsi:nil, undeclared attributes and elements,
untyped text, xmldsig wildcard and mixed content. Each case is an XML document and the bytes EXIficient (the codec
inside Josev, driven through tests/exi/exificient_bridge.py with the V2G options) writes for it; the bytes were
taken from EXIficient and are checked against it again whenever Josev's venv is there
(test_undeclared.py::test_exificient_still_writes_these_bytes)."""

# ruff: noqa: E501
NS = ('xmlns:ns1="urn:iso:15118:2:2013:MsgDef" xmlns:ns2="urn:iso:15118:2:2013:MsgHeader" '
      'xmlns:ns3="urn:iso:15118:2:2013:MsgBody" xmlns:ns4="urn:iso:15118:2:2013:MsgDataTypes" '
      'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
      'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:foo="urn:foo"')
def iso2(body, header=''):
    return (f'<ns1:V2G_Message {NS}><ns1:Header><ns2:SessionID>0102030405060708</ns2:SessionID>{header}</ns1:Header>'
            f'<ns1:Body>{body}</ns1:Body></ns1:V2G_Message>')
DNS = ('xmlns:ns1="urn:din:70121:2012:MsgDef" xmlns:ns2="urn:din:70121:2012:MsgHeader" '
       'xmlns:ns3="urn:din:70121:2012:MsgBody" xmlns:ns4="urn:din:70121:2012:MsgDataTypes" '
       'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:foo="urn:foo"')
def din(body):
    return (f'<ns1:V2G_Message {DNS}><ns1:Header><ns2:SessionID>0102030405060708</ns2:SessionID></ns1:Header>'
            f'<ns1:Body>{body}</ns1:Body></ns1:V2G_Message>')
SIG = ('<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/canonical-exi/">{c14n}</ds:CanonicalizationMethod>'
       '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>'
       '<ds:Reference URI="#id1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/TR/canonical-exi/">{transform}</ds:Transform></ds:Transforms>'
       '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAEC</ds:DigestValue></ds:Reference>'
       '</ds:SignedInfo><ds:SignatureValue>AAEC</ds:SignatureValue>{keyinfo}{obj}</ds:Signature>')
XML = {
 # xsi:nil
 'iso2 nil simple': ('iso2', iso2('<ns3:SessionSetupReq><ns3:EVCCID xsi:nil="true"/></ns3:SessionSetupReq>')),
 'iso2 nil complex': ('iso2', iso2('<ns3:SessionSetupReq xsi:nil="true"/>')),
 'iso2 nil with attribute': ('iso2', iso2('<ns3:AuthorizationReq ns3:Id="a1" xsi:nil="true"/>')),
 'iso2 nil nested': ('iso2', iso2('<ns3:ChargeParameterDiscoveryReq><ns3:MaxEntriesSAScheduleTuple xsi:nil="true"/><ns3:RequestedEnergyTransferMode>AC_three_phase_core</ns3:RequestedEnergyTransferMode><ns4:AC_EVChargeParameter><ns4:DepartureTime>0</ns4:DepartureTime><ns4:EAmount xsi:nil="true"/><ns4:EVMaxVoltage><ns4:Multiplier>0</ns4:Multiplier><ns4:Unit>V</ns4:Unit><ns4:Value>400</ns4:Value></ns4:EVMaxVoltage><ns4:EVMaxCurrent><ns4:Multiplier>0</ns4:Multiplier><ns4:Unit>A</ns4:Unit><ns4:Value>32</ns4:Value></ns4:EVMaxCurrent><ns4:EVMinCurrent><ns4:Multiplier>0</ns4:Multiplier><ns4:Unit>A</ns4:Unit><ns4:Value>6</ns4:Value></ns4:EVMinCurrent></ns4:AC_EVChargeParameter></ns3:ChargeParameterDiscoveryReq>')),
 'din nil simple': ('din', din('<ns3:SessionSetupReq><ns3:EVCCID xsi:nil="true"/></ns3:SessionSetupReq>')),
 # xsi:type
 'iso2 type builtin': ('iso2', iso2('<ns3:SessionSetupReq><ns3:EVCCID xsi:type="xs:hexBinary">0a0b</ns3:EVCCID></ns3:SessionSetupReq>')),
 'iso2 type string on int': ('iso2', iso2('<ns3:SessionStopReq><ns3:ChargingSession xsi:type="xs:string">Whatever</ns3:ChargingSession></ns3:SessionStopReq>')),
 'iso2 type same complex': ('iso2', iso2('<ns3:SessionSetupReq xsi:type="ns3:SessionSetupReqType"><ns3:EVCCID>0a</ns3:EVCCID></ns3:SessionSetupReq>')),
 'iso2 type other complex': ('iso2', iso2('<ns3:SessionSetupReq xsi:type="ns3:SessionStopReqType"><ns3:ChargingSession>Terminate</ns3:ChargingSession></ns3:SessionSetupReq>')),
 'iso2 type derived': ('iso2', iso2('<ns3:ChargeParameterDiscoveryRes><ns3:ResponseCode>OK</ns3:ResponseCode><ns3:EVSEProcessing>Finished</ns3:EVSEProcessing><ns4:SASchedules xsi:type="ns4:SAScheduleListType"><ns4:SAScheduleTuple><ns4:SAScheduleTupleID>1</ns4:SAScheduleTupleID><ns4:PMaxSchedule><ns4:PMaxScheduleEntry><ns4:RelativeTimeInterval><ns4:start>0</ns4:start></ns4:RelativeTimeInterval><ns4:PMax><ns4:Multiplier>0</ns4:Multiplier><ns4:Unit>W</ns4:Unit><ns4:Value>11000</ns4:Value></ns4:PMax></ns4:PMaxScheduleEntry></ns4:PMaxSchedule></ns4:SAScheduleTuple></ns4:SASchedules><ns4:AC_EVSEChargeParameter><ns4:AC_EVSEStatus><ns4:NotificationMaxDelay>0</ns4:NotificationMaxDelay><ns4:EVSENotification>None</ns4:EVSENotification><ns4:RCD>false</ns4:RCD></ns4:AC_EVSEStatus><ns4:EVSENominalVoltage><ns4:Multiplier>0</ns4:Multiplier><ns4:Unit>V</ns4:Unit><ns4:Value>230</ns4:Value></ns4:EVSENominalVoltage><ns4:EVSEMaxCurrent><ns4:Multiplier>0</ns4:Multiplier><ns4:Unit>A</ns4:Unit><ns4:Value>32</ns4:Value></ns4:EVSEMaxCurrent></ns4:AC_EVSEChargeParameter></ns3:ChargeParameterDiscoveryRes>')),
 'iso2 type foreign': ('iso2', iso2('<ns3:SessionSetupReq><ns3:EVCCID xsi:type="foo:bar">0a</ns3:EVCCID></ns3:SessionSetupReq>')),
 'iso2 type then nil': ('iso2', iso2('<ns3:SessionSetupReq><ns3:EVCCID xsi:type="xs:hexBinary" xsi:nil="true"/></ns3:SessionSetupReq>')),
 'din type': ('din', din('<ns3:SessionSetupReq xsi:type="ns3:SessionSetupReqType"><ns3:EVCCID>0a</ns3:EVCCID></ns3:SessionSetupReq>')),
 'apphand type': ('apphand', '<ns4:supportedAppProtocolReq xmlns:ns4="urn:iso:15118:2:2010:AppProtocol" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><AppProtocol xsi:type="ns4:AppProtocolType"><ProtocolNamespace>urn:din:70121:2012:MsgDef</ProtocolNamespace><VersionNumberMajor>2</VersionNumberMajor><VersionNumberMinor>0</VersionNumberMinor><SchemaID>1</SchemaID><Priority>1</Priority></AppProtocol></ns4:supportedAppProtocolReq>'),
 # undeclared attributes and elements
 'iso2 at star': ('iso2', iso2('<ns3:SessionSetupReq foo:bar="x" baz="y"><ns3:EVCCID>0a</ns3:EVCCID></ns3:SessionSetupReq>')),
 'iso2 at star after declared': ('iso2', iso2('<ns3:AuthorizationReq ns3:Id="a1" foo:bar="x"><ns3:GenChallenge>00112233445566778899aabbccddeeff</ns3:GenChallenge></ns3:AuthorizationReq>')),
 'iso2 se star unknown': ('iso2', iso2('<ns3:SessionSetupReq><ns3:EVCCID>0a</ns3:EVCCID><foo:Extra>hi</foo:Extra></ns3:SessionSetupReq>')),
 'iso2 se star unknown nested': ('iso2', iso2('<ns3:SessionSetupReq><foo:Extra foo:a="1"><foo:Inner>x</foo:Inner>tail<foo:Inner>y</foo:Inner></foo:Extra><ns3:EVCCID>0a</ns3:EVCCID></ns3:SessionSetupReq>')),
 'iso2 se star global': ('iso2', iso2('<ns3:SessionSetupReq><ns3:EVCCID>0a</ns3:EVCCID><ns3:SessionStopReq><ns3:ChargingSession>Terminate</ns3:ChargingSession></ns3:SessionStopReq></ns3:SessionSetupReq>')),
 'iso2 se star twice': ('iso2', iso2('<ns3:SessionSetupReq><ns3:EVCCID>0a</ns3:EVCCID><foo:Extra>a</foo:Extra><foo:Extra>b</foo:Extra></ns3:SessionSetupReq>')),
 'iso2 empty element': ('iso2', iso2('<ns3:SessionSetupReq/>')),
 'iso2 untyped ch': ('iso2', iso2('<ns3:SessionSetupReq><ns3:EVCCID>zz</ns3:EVCCID></ns3:SessionSetupReq>')),
 'iso2 untyped ch nbit': ('iso2', iso2('<ns3:PowerDeliveryReq><ns3:ChargeProgress>Start</ns3:ChargeProgress><ns3:SAScheduleTupleID>0</ns3:SAScheduleTupleID></ns3:PowerDeliveryReq>')),
 'iso2 text in complex': ('iso2', iso2('<ns3:SessionSetupReq>oops<ns3:EVCCID>0a</ns3:EVCCID></ns3:SessionSetupReq>')),
 # xmldsig wildcards and mixed content
 'iso2 sig plain': ('iso2', iso2('<ns3:SessionStopReq><ns3:ChargingSession>Terminate</ns3:ChargingSession></ns3:SessionStopReq>', SIG.format(c14n='', transform='', keyinfo='', obj=''))),
 'iso2 sig wildcard': ('iso2', iso2('<ns3:SessionStopReq><ns3:ChargingSession>Terminate</ns3:ChargingSession></ns3:SessionStopReq>', SIG.format(c14n='<foo:Opt>1</foo:Opt>', transform='<ds:XPath>/a</ds:XPath><foo:T x="1"/>', keyinfo='<ds:KeyInfo><ds:KeyName>k1</ds:KeyName><foo:Key>abc</foo:Key></ds:KeyInfo>', obj='<ds:Object Id="o1"><foo:Data>d</foo:Data></ds:Object>'))),
 'iso2 sig mixed': ('iso2', iso2('<ns3:SessionStopReq><ns3:ChargingSession>Terminate</ns3:ChargingSession></ns3:SessionStopReq>', SIG.format(c14n='text', transform='', keyinfo='<ds:KeyInfo>lead<ds:KeyName>k1</ds:KeyName>mid</ds:KeyInfo>', obj='<ds:Object>some text<foo:Data>d</foo:Data>more</ds:Object>'))),
 'iso2 sig object global': ('iso2', iso2('<ns3:SessionStopReq><ns3:ChargingSession>Terminate</ns3:ChargingSession></ns3:SessionStopReq>', SIG.format(c14n='', transform='', keyinfo='', obj='<ds:Object><ds:KeyName>k2</ds:KeyName></ds:Object>'))),
 'root unknown': ('iso2', '<foo:Doc xmlns:foo="urn:foo">x</foo:Doc>'),
}

# name -> EXIficient's bytes for XML[name]
GOLDEN = {
    'iso2 nil simple': '809802004080c1014181c211d540',
    'iso2 nil complex': '809802004080c1014181c211da80',
    'iso2 nil with attribute': '809802004080c1014181c2100cc0461310',
    'iso2 nil nested': '809802004080c1014181c21092a080005418812006061810018600c000',
    'din nil simple': '809a02004080c1014181c211d540',
    'iso2 type builtin': '809802004080c1014181c211d4a0038020a0b0',
    'iso2 type string on int': '809802004080c1014181c211f4a004e0a57686174657665720',
    'iso2 type same complex': '809802004080c1014181c211d9600e20085000',
    'iso2 type other complex': '809802004080c1014181c211d9600ea000',
    'iso2 type derived': '809802004080c1014181c210a0001870073000000086287c2a854000000310398040c3020000',
    'iso2 type foreign': '809802004080c1014181c211d4803bab9371d3337b7823130b90042800',
    'iso2 type then nil': '809802004080c1014181c211d4a0039500',
    'din type': '809a02004080c1014181c211d9600d60085000',
    'apphand type': '8013400036eae4dc74c8d2dc746e606264627464606264749ae6ce88cacc008000010010',
    'iso2 at star': '809802004080c1014181c211db00775726e3a666f6f046261720378b10462617a03790042800',
    'iso2 at star after declared': '809802004080c1014181c210001184c6001dd5c9b8e999bdbc118985c80de00c69a6baedb6fbf1c73cf5d77df9e7beb4d36db8e3aebcf3ef80',
    'iso2 se star unknown': '809802004080c1014181c211d00429003bab9371d3337b78322bc3a3930a60140031823434a0',
    'iso2 se star unknown nested': '809802004080c1014181c211dd00775726e3a666f6f0645787472614c0280060a02610331340c92dcdccae49805000c606f0c0ce8c2d2d850054c0280063037950042800',
    'iso2 se star global': '809802004080c1014181c211d0042930074000',
    'iso2 se star twice': '809802004080c1014181c211d00429003bab9371d3337b78322bc3a3930a6014003181b0b5005300a0018c0d8900',
    'iso2 empty element': '809802004080c1014181c211d800',
    'iso2 untyped ch': '809802004080c1014181c211d7023d3d40',
    'iso2 untyped ch nbit': '809802004080c1014181c21150380cc230',
    'iso2 text in complex': '809802004080c1014181c211de066f6f7073004280',
    'iso2 sig plain': '809802004080c1014181c20a895a1d1d1c0e8bcbddddddcb9dcccb9bdc99cbd5148bd8d85b9bdb9a58d85b0b595e1a4bd0d5a1d1d1c0e8bcbddddddcb9dcccb9bdc99cbcc8c0c0c4bcc0d0bde1b5b191cda59cb5b5bdc9948d958d91cd84b5cda184c8d4d910311b4b218812b43a3a381d1797bbbbbb973b999737b93397aa2917b1b0b737b734b1b0b616b2bc3497a429687474703a2f2f7777772e77332e6f72672f323030312f30342f786d6c656e6323736861323536403000102120600020487c00',
    'iso2 sig wildcard': '809802004080c1014181c20a895a1d1d1c0e8bcbddddddcb9dcccb9bdc99cbd5148bd8d85b9bdb9a58d85b0b595e1a4bc00775726e3a666f6f044f70744c0280063033150d5a1d1d1c0e8bcbddddddcb9dcccb9bdc99cbcc8c0c0c4bcc0d0bde1b5b191cda59cb5b5bdc9948d958d91cd84b5cda184c8d4d910311b4b218812b43a3a381d1797bbbbbb973b999737b93397aa2917b1b0b737b734b1b0b616b2bc349780217b08d012a2601400300813c0198a4852d0e8e8e0745e5eeeeeee5cee665cdee4ce5e646060625e60685ef0dad8cadcc646e6d0c2646a6c806000204240c0004080811acc4f40896caf29805000c60ac2c4c6c0411bcc4d02a230ba30a6014003181b22a3e00',
    'iso2 sig mixed': '809802004080c1014181c20a895a1d1d1c0e8bcbddddddcb9dcccb9bdc99cbd5148bd8d85b9bdb9a58d85b0b595e1a4be0674657874435687474703a2f2f7777772e77332e6f72672f323030312f30342f786d6c647369672d6d6f72652365636473612d736861323536440c46d2c86204ad0e8e8e0745e5eeeeeee5cee665cdee4ce5ea8a45ec6c2dcdedcd2c6c2d85acaf0d25e90a5a1d1d1c0e8bcbddddddcb9dcccb9bdc99cbcc8c0c0c4bcc0d0bde1b5b195b98c8dcda184c8d4d900c00040848180008109066c6561640023598a415b5a5920a16e6dedaca40e8caf0e8003bab9371d3337b782a230ba30a6014003181b230336b7b932a8f80',
    'iso2 sig object global': '809802004080c1014181c20a895a1d1d1c0e8bcbddddddcb9dcccb9bdc99cbd5148bd8d85b9bdb9a58d85b0b595e1a4bd0d5a1d1d1c0e8bcbddddddcb9dcccb9bdc99cbcc8c0c0c4bcc0d0bde1b5b191cda59cb5b5bdc9948d958d91cd84b5cda184c8d4d910311b4b218812b43a3a381d1797bbbbbb973b999737b93397aa2917b1b0b737b734b1b0b616b2bc3497a429687474703a2f2f7777772e77332e6f72672f323030312f30342f786d6c656e632373686132353640300010212060002045a8010023599147c000',
    'root unknown': '80a000eeae4dc74ccdede0888dec69805000c606f080',
}

# schema-invalid content EXIficient writes with second-level events; we decode it, and refuse to encode it
INVALID = {'iso2 empty element': 'missing required element', 'iso2 untyped ch': 'not a hex string', 'iso2 untyped ch nbit': 'expected an integer'}
