// What the Azure export tests need done to the emulator without our code, through Microsoft's
// own SDK: make a container, issue a SAS with chosen permissions, read back every blob, and
// read, write or delete one blob (the tamper tests). Prints JSON.
//
//   node admin.mjs container NAME
//   node admin.mjs sas CONTAINER PERMISSIONS EXPIRES_IN_SECONDS   (negative: already expired)
//   node admin.mjs dump CONTAINER                 {"blobs": {key: base64}, "content_types": {key: type}}
//   node admin.mjs get|delete CONTAINER KEY
//   node admin.mjs put CONTAINER KEY BASE64
//
// The emulator's address comes from AUDITLOG_TEST_AZURITE_URL; its account is Azurite's
// well-known development account.
import {
  BlobServiceClient,
  ContainerSASPermissions,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from "@azure/storage-blob";

const account = "devstoreaccount1";
const key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const base = process.env.AUDITLOG_TEST_AZURITE_URL;
if (!base) throw new Error("set AUDITLOG_TEST_AZURITE_URL (scripts/azurite.sh starts the emulator)");
const credential = new StorageSharedKeyCredential(account, key);
const service = new BlobServiceClient(`${base}/${account}`, credential);
const [command, container, ...rest] = process.argv.slice(2);
const blobs = service.getContainerClient(container);

async function bytes(name) {
  return Buffer.from(await blobs.getBlobClient(name).downloadToBuffer());
}

switch (command) {
  case "container":
    await blobs.create();
    console.log(JSON.stringify({ container }));
    break;
  case "sas": {
    const [permissions, seconds] = rest;
    const now = Date.now();
    const expiresOn = new Date(now + Number(seconds) * 1000);
    const startsOn = new Date(Math.min(now, expiresOn.getTime()) - 3600 * 1000);
    const sas = generateBlobSASQueryParameters(
      { containerName: container, permissions: ContainerSASPermissions.parse(permissions), startsOn, expiresOn },
      credential,
    ).toString();
    console.log(JSON.stringify({ sas }));
    break;
  }
  case "dump": {
    const out = { blobs: {}, content_types: {} };
    for await (const blob of blobs.listBlobsFlat()) {
      out.blobs[blob.name] = (await bytes(blob.name)).toString("base64");
      out.content_types[blob.name] = blob.properties.contentType ?? null;
    }
    console.log(JSON.stringify(out));
    break;
  }
  case "get":
    console.log(JSON.stringify({ base64: (await bytes(rest[0])).toString("base64") }));
    break;
  case "put": {
    const body = Buffer.from(rest[1], "base64");
    await blobs.getBlockBlobClient(rest[0]).upload(body, body.length);
    console.log(JSON.stringify({ put: rest[0] }));
    break;
  }
  case "delete":
    await blobs.getBlobClient(rest[0]).delete();
    console.log(JSON.stringify({ deleted: rest[0] }));
    break;
  default:
    throw new Error(`unknown command ${command}`);
}
