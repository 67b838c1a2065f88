// A HIS-side client in another language, built only from the repo's .proto: loads
// proto/fundguard/v1/compliance.proto at run time (@grpc/proto-loader), calls
// fundguard.v1.ComplianceAgent/Check on the address given, prints the CheckResponse as one JSON object on stdout.
//
//   node client.mjs 127.0.0.1:50051
//
// The request: a male patient (gend "1") ordered 左炔诺孕酮宫内节育系统 XG02BAZ061Z007010279543 (rx_id "6374"), a
// female-only drug, plus an unrestricted vitamin line. Exit code 0 on an answer, 1 on a gRPC error (printed on
// stderr as JSON with code and details), 2 on bad usage.
import { fileURLToPath } from "node:url";
import path from "node:path";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const here = path.dirname(fileURLToPath(import.meta.url));
const protoRoot = path.resolve(here, "..", "..", "proto");
const PROTO = "fundguard/v1/compliance.proto";

const address = process.argv[2];
if (!address) {
  console.error("usage: node client.mjs HOST:PORT");
  process.exit(2);
}

const definition = protoLoader.loadSync(PROTO, {
  includeDirs: [protoRoot],
  keepCase: true, // the national snake_case field names, as in the .proto
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const fundguard = grpc.loadPackageDefinition(definition).fundguard.v1;

const request = {
  trig_scen: "4",
  task_id: "interop-node-1",
  service_date: "2026-11-01",
  patient: { patn_id: "P-NODE-000001", patn_name: "张三", gend: "1", brdy: "1951-08-27" },
  encounter: {
    mdtrt_id: "E-NODE-0001",
    med_type: "21",
    insutype: "390",
    medins_lv: "01",
    diagnoses: [{ dise_codg: "N40.x00", dise_name: "前列腺增生", maindise_flag: "1" }],
    orders: [
      {
        rx_id: "6374",
        hilist_code: "XG02BAZ061Z007010279543",
        hilist_name: "左炔诺孕酮宫内节育系统",
        cnt: "1",
        pric: "1153",
        sumamt: "1153",
        drord_begn_date: "2026-11-01 09:30:00",
      },
      {
        rx_id: "6375",
        hilist_code: "XA11DAW036A001010104127",
        hilist_name: "维生素B1片",
        cnt: "2",
        pric: "1.5",
        drord_begn_date: "2026-11-01 09:30:00",
      },
    ],
  },
};

const client = new fundguard.ComplianceAgent(address, grpc.credentials.createInsecure());
const deadline = new Date(Date.now() + 10_000);
client.Check(request, { deadline }, (err, response) => {
  client.close();
  if (err) {
    console.error(JSON.stringify({ code: err.code, status: grpc.status[err.code], details: err.details }));
    process.exit(1);
  }
  console.log(JSON.stringify(response));
});
